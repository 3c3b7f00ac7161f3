import { describe, expect, it } from 'vitest';
import { createApp, sleep } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

/**
 * Found by `npm run fuzz` (interleavings, seeds 836757596 L1 only and with faults): a tag's
 * invalidation time was forgotten `l1.ttl` after it was learnt, and an L1 entry living longer than
 * that (no shared tier, or a per-call `l1Ttl` above `l1.ttl`) created before the invalidation was
 * served again. Both tests failed before the fix.
 */
describe('an invalidated tag keeps its L1 entries invalidated for as long as they live', () => {
  it('without a shared tier', async () => {
    const { app, cache } = await createApp({ redis: false, l1: { max: 100, ttl: 50 } });
    try {
      await cache.getOrSet('catalog', async () => 'old prices', { tags: ['prices'], ttl: 60_000 });
      await cache.invalidateTags('prices');
      await sleep(120); // past l1.ttl, the time the tag's invalidation was known for
      expect(await cache.getOrSet('catalog', async () => 'new prices', { tags: ['prices'], ttl: 60_000 })).toBe('new prices');
    } finally {
      await app.close();
    }
  });

  const suite = redisSuite();

  it('with a per-call l1Ttl longer than l1.ttl', async () => {
    const { cache } = await suite.app({ bus: false, l1: { max: 100, ttl: 50 } });
    await cache.getOrSet('catalog', async () => 'old prices', { tags: ['prices'], ttl: 60_000, l1Ttl: 10_000 });
    await cache.invalidateTags('prices');
    await sleep(120);
    expect(await cache.getOrSet('catalog', async () => 'new prices', { tags: ['prices'], ttl: 60_000, l1Ttl: 10_000 })).toBe('new prices');
  });
});
