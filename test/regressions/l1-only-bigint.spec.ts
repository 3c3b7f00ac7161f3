import { describe, expect, it } from 'vitest';
import { createApp } from '../support/app.js';

describe('defect 13: without Redis, l1.maxSize does not make values go through the serializer', () => {
  it('with redis: false and l1.maxSize, a BigInt result is cached (the loader runs once for two calls)', async () => {
    const { app, cache } = await createApp({ redis: false, l1: { maxSize: 1_000_000 } });
    try {
      let runs = 0;
      const load = () =>
        cache.getOrSet('balance', async () => {
          runs++;
          return 10n ** 20n;
        });
      expect(await load()).toBe(10n ** 20n);
      expect(await load()).toBe(10n ** 20n);
      expect(runs).toBe(1);
      expect(cache.stats().serializationErrors).toBe(0);
    } finally {
      await app.close();
    }
  });
});
