import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../lib/l2/redis-connection.js';
import { RedisTier } from '../../lib/l2/redis-tier.js';
import { LEASED } from '../../lib/shared/shared-tier.interface.js';
import { CacheStats } from '../../lib/stats/cache-stats.js';
import { sleep, uniquePrefix } from '../support/app.js';
import { RedisServer } from '../support/redis-server.js';
import { sharedTierContract } from './shared-tier.contract.js';

/** The SharedTier contract against the Redis tier on a real redis-server (as the memory tier runs it). */
let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});

sharedTierContract('RedisTier', async () => {
  const tier = async () => {
    const t = new RedisTier(createRedisClient(redis.url), false, 2_000, new CacheStats());
    await t.connect(5_000);
    return t;
  };
  const a = await tier();
  const b = await tier();
  return {
    a,
    b,
    // A JSON app's tier (binary serializers read Buffers; their bytes are checked by the codec specs).
    bytes: false,
    prefix: `${uniquePrefix('contract')}:`,
    advance: (ms) => sleep(ms),
    close: async () => {
      await a.close();
      await b.close();
    },
  };
});

describe('RedisTier.readOrLease on Redis', () => {
  it('reads bytes as a Buffer for binary serializers, and runs after Redis forgot its scripts', async () => {
    const tier = new RedisTier(createRedisClient(redis.url), true, 2_000, new CacheStats());
    await tier.connect(5_000);
    try {
      const k = `${uniquePrefix('contract')}:{bin}`;
      const bytes = Buffer.from([0x00, 0xff, 0x80, 0x7b]);
      await tier.put(k, bytes, 10_000);
      await tier.client.script('FLUSH');
      const read = await tier.readOrLease(k, 'tok', 1_000);
      expect(Buffer.isBuffer(read)).toBe(true);
      expect((read as Buffer).equals(bytes)).toBe(true);
      expect(await tier.readOrLease(`${k}x`, 'tok', 1_000)).toBe(LEASED);
    } finally {
      await tier.close();
    }
  });
});
