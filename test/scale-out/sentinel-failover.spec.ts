import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict, type TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { createApp, eventually, sleep, uniquePrefix } from '../support/app.js';
import { RedisSentinelSet } from '../support/redis-sentinel.js';

const db = new Map<number, string>();

@Injectable()
class Catalog {
  @Cacheable({ key: (id: number) => `item:${id}` })
  async find(id: number): Promise<string | undefined> {
    return db.get(id);
  }

  @CacheEvict({ key: (id: number) => `item:${id}` })
  async update(id: number, value: string): Promise<void> {
    db.set(id, value);
  }
}

/**
 * One primary, one replica, three sentinels (`down-after-milliseconds` 1000). The cache is
 * configured with `redis: { sentinels, name }` only: ioredis asks the sentinels for the primary
 * on every reconnect. One failover per run (the killed primary does not come back), so the
 * phases share it.
 */
describe('Sentinel failover: the monitored primary SIGKILLed', () => {
  let sentinel: RedisSentinelSet;
  const closers: (() => Promise<void>)[] = [];
  const app = async (options: TieredCacheModuleOptions, providers: any[] = []) => {
    const created = await createApp({ redis: { sentinels: sentinel.sentinels, name: sentinel.name }, ...options }, { providers });
    closers.push(() => created.app.close());
    return created;
  };

  beforeAll(async () => {
    sentinel = await RedisSentinelSet.start();
  });
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('calls answer during the failover, caching and the bus resume by themselves, and a lost eviction is stale only until its TTL', async () => {
    const keyPrefix = uniquePrefix('sentinel');
    const a = await app({ keyPrefix, l1: { ttl: 60_000 } }, [Catalog]);
    const b = await app({ keyPrefix, l1: { ttl: 60_000 } }, [Catalog]);
    const { cache: c } = await app({ keyPrefix, l1: false });
    const [catA, catB] = [a.app.get(Catalog), b.app.get(Catalog)];
    db.set(1, 'v1');
    expect(await catA.find(1)).toBe('v1');
    expect(await catB.find(1)).toBe('v1');
    expect(a.cache.stats().bus.connected).toBe(true);

    // An eviction the replica never gets: acknowledged by the primary, which dies before sending it.
    const primary = await sentinel.primaryPort();
    const replica = sentinel.dataPorts.find((p) => p !== primary)!;
    const ttl = 6_000;
    await c.set('row', 'v1', { ttl });
    const writtenAt = Date.now();
    const replicaClient = sentinel.nodeClient(replica);
    expect(await eventually(async () => (await replicaClient.exists(`${keyPrefix}{row}`)) === 1, 5_000)).toBe(true);
    replicaClient.disconnect();
    sentinel.signal(replica, 'SIGSTOP');
    const primaryClient = sentinel.nodeClient(primary);
    await primaryClient.call('CLIENT', 'KILL', 'TYPE', 'replica');
    primaryClient.disconnect();
    await c.del('row');

    const killedAt = Date.now();
    await sentinel.kill(primary);
    sentinel.signal(replica, 'SIGCONT');
    let failoverAfter = -1;
    const failover = sentinel.waitForFailover(primary).then((p) => {
      failoverAfter = Date.now() - killedAt;
      return p;
    });

    let calls = 0;
    let slowest = 0;
    let resumedAfter = -1;
    for (let i = 0; resumedAfter < 0 && Date.now() - killedAt < 30_000; i++) {
      const t0 = performance.now();
      const [loaded, cached] = await Promise.all([c.getOrSet(`fresh:${i}`, async () => i), a.cache.getOrSet(`fresh:${i}`, async () => i)]);
      slowest = Math.max(slowest, performance.now() - t0);
      calls += 2;
      expect([loaded, cached]).toEqual([i, i]);
      await c.set(`probe:${i}`, i);
      if ((await b.cache.get(`probe:${i}`)) === i) resumedAfter = Date.now() - killedAt;
      else await sleep(25);
    }
    expect(await failover).toBe(replica);
    console.info(
      `[sentinel failover] sentinels switched to the replica after ${failoverAfter} ms; caching resumed after ` +
        `${resumedAfter} ms; ${calls} calls, slowest ${Math.round(slowest)} ms`,
    );
    expect(resumedAfter).toBeGreaterThan(0);

    // The bus: A's subscriber reconnected to the new primary (and dropped its L1 for the gap).
    await catB.update(1, 'v2');
    expect(await eventually(async () => (await catA.find(1)) === 'v2', 5_000)).toBe(true);

    // The lost eviction: the promoted replica still has v1, served until v1's own expiry, never after.
    const seen: { at: number; value: unknown }[] = [];
    while (Date.now() < writtenAt + ttl + 1_000) {
      seen.push({ at: Date.now(), value: await c.getOrSet('row', async () => 'v2') });
      await sleep(100);
    }
    expect(seen.some((s) => s.value === 'v1')).toBe(true);
    expect(seen.filter((s) => s.value === 'v1' && s.at > writtenAt + ttl + 50)).toEqual([]);
    expect(seen.every((s) => s.value === 'v1' || s.value === 'v2')).toBe(true);
  });
});
