import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createApp } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 11: closing an app leaves no listeners on a Redis client passed in', () => {
  const suite = redisSuite();
  const events = ['ready', 'error', 'close', 'end', 'connect', 'reconnecting'] as const;
  const listeners = (client: Redis) => Object.fromEntries(events.map((e) => [e, client.listenerCount(e)]));

  it('five apps created and closed on one client leave its listener counts as they were', async () => {
    const client = new Redis(suite.redis.url, { enableOfflineQueue: false });
    try {
      await new Promise<void>((resolve) => (client.status === 'ready' ? resolve() : client.once('ready', () => resolve())));
      const before = listeners(client);
      for (let i = 0; i < 5; i++) {
        const { app, cache } = await createApp({ redis: client });
        await cache.set('k', i);
        await app.close();
      }
      expect(listeners(client)).toEqual(before);
      expect(client.status).toBe('ready'); // and the client stays the user's, open
    } finally {
      await client.quit();
    }
  });
});
