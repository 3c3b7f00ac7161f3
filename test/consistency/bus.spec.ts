import 'reflect-metadata';
import { Injectable, type INestApplicationContext } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict, CachePut, type TieredCacheModuleOptions, type TieredCacheService } from 'nestjs-tiered-cache';
import { createApp, eventually, sleep, uniquePrefix } from '../support/app.js';
import { commandCalls, rawClient, RedisServer } from '../support/redis-server.js';
import { aclDenials, cacheUserUrl } from '../support/acl.js';

/** The database every instance reads: shared, so a change by one instance is the truth for all. */
const db = new Map<number, string>();

@Injectable()
class Catalog {
  @Cacheable({ key: (id: number) => `item:${id}`, tags: (id: number) => [`shelf:${id % 2}`] })
  async find(id: number): Promise<string | undefined> {
    return db.get(id);
  }

  @CacheEvict({ key: (id: number) => `item:${id}` })
  async update(id: number, value: string): Promise<void> {
    db.set(id, value);
  }

  @CachePut({ key: (id: number) => `item:${id}`, tags: (id: number) => [`shelf:${id % 2}`] })
  async replace(id: number, value: string): Promise<string> {
    db.set(id, value);
    return value;
  }

  @CacheEvict({ tags: (shelf: number) => [`shelf:${shelf}`] })
  async restock(shelf: number, value: string): Promise<void> {
    for (const id of db.keys()) if (id % 2 === shelf) db.set(id, value);
  }
}

interface Instance {
  app: INestApplicationContext;
  cache: TieredCacheService;
  catalog: Catalog;
}

describe('every instance sees every write (invalidation bus, three Nest apps on one Redis)', () => {
  let redis: RedisServer;
  let raw: Redis;
  let instances: Instance[] = [];

  const fleetOf = async (n: number, options: TieredCacheModuleOptions = {}) => {
    const keyPrefix = uniquePrefix('bus');
    instances = await Promise.all(
      Array.from({ length: n }, async () => {
        const url = await cacheUserUrl(raw, redis.port, keyPrefix);
        const { app, cache } = await createApp({ redis: url, keyPrefix, l1: { ttl: 60_000 }, ...options }, { providers: [Catalog] });
        return { app, cache, catalog: app.get(Catalog) };
      }),
    );
    return instances;
  };
  /** A holds `item:1` = v1 in its L1 (and so does C). */
  const warm = async (all: Instance[]) => {
    db.set(1, 'v1');
    for (const i of all) expect(await i.catalog.find(1)).toBe('v1');
  };
  const sees = (i: Instance, value: string | undefined) => eventually(async () => (await i.catalog.find(1)) === value, 2_000);

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis);
    await raw.call('ACL', 'LOG', 'RESET');
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.app.close()));
    instances = [];
    db.clear();
  });
  afterAll(async () => {
    expect(await aclDenials(raw), 'commands Redis refused the least-privilege cache user').toEqual([]);
    await raw.quit();
    await redis.stop();
  });

  it('@CacheEvict on B: A and C serve the new value after the bus delivers', async () => {
    const [a, b, c] = await fleetOf(3);
    await warm([a!, b!, c!]);
    await b!.catalog.update(1, 'v2');
    expect(await sees(a!, 'v2')).toBe(true);
    expect(await sees(c!, 'v2')).toBe(true);
    expect(a!.cache.stats().bus.received).toBeGreaterThan(0);
  });

  it('@CachePut on B: A and C serve the value B stored', async () => {
    const [a, b, c] = await fleetOf(3);
    await warm([a!, b!, c!]);
    await b!.catalog.replace(1, 'v3');
    expect(await sees(a!, 'v3')).toBe(true);
    expect(await sees(c!, 'v3')).toBe(true);
  });

  it('set() on B: A and C drop their L1 copy', async () => {
    const [a, b, c] = await fleetOf(3);
    await warm([a!, b!, c!]);
    db.set(1, 'v4');
    await b!.cache.set('item:1', 'v4');
    expect(await sees(a!, 'v4')).toBe(true);
    expect(await sees(c!, 'v4')).toBe(true);
  });

  it('clear() on B: every instance drops its whole L1', async () => {
    const [a, b, c] = await fleetOf(3);
    await warm([a!, b!, c!]);
    db.set(1, 'v5');
    await b!.cache.clear();
    expect(await sees(a!, 'v5')).toBe(true);
    expect(await sees(c!, 'v5')).toBe(true);
  });

  it('tag invalidation on B (@CacheEvict({ tags })): entries with the tag reload everywhere, others stay', async () => {
    const [a, b, c] = await fleetOf(3);
    db.set(2, 'even');
    await warm([a!, b!, c!]);
    for (const i of [a!, c!]) await i.catalog.find(2);
    await b!.catalog.restock(1, 'restocked');
    expect(await sees(a!, 'restocked')).toBe(true);
    expect(await sees(c!, 'restocked')).toBe(true);
    db.set(2, 'changed without eviction');
    expect(await a!.catalog.find(2)).toBe('even'); // shelf:0 untouched, still cached
  });

  it('control: with the bus and tracking off, A keeps serving its stale L1 copy until its L1 TTL', async () => {
    // Tracking would tell A too (see test/tracking): off here, so the bus is all there is.
    const [a, b] = await fleetOf(2, { bus: false, tracking: false, l1: { ttl: 600 } });
    await warm([a!, b!]);
    await b!.catalog.update(1, 'v2');
    await sleep(200);
    expect(await a!.catalog.find(1)).toBe('v1'); // stale: nothing told A
    expect(await b!.catalog.find(1)).toBe('v2');
    expect(await sees(a!, 'v2')).toBe(true); // within the L1 TTL bound
  });

  it('after its subscriber is killed (CLIENT KILL TYPE pubsub), A drops L1 on reconnect and misses nothing evicted in the gap', async () => {
    const [a, b] = await fleetOf(2);
    await warm([a!, b!]);
    await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await b!.catalog.update(1, 'evicted-in-the-gap');
    expect(await eventually(() => a!.cache.stats().bus.gaps >= 1 && a!.cache.stats().bus.connected, 5_000)).toBe(true);
    expect(await a!.catalog.find(1)).toBe('evicted-in-the-gap');
  });

  it('one invalidateTags call hides 10 000 tagged entries from every tier on every instance', async () => {
    // 10 000 commands at once on a loaded machine can outlast the default 250 ms l2Timeout (a read
    // is then a miss, a write is retried): this spec is about counting writes, not timeouts.
    const [a, b, c] = await fleetOf(3, { l2Timeout: 5_000 });
    const keys = Array.from({ length: 10_000 }, (_, i) => `row:${i}`);
    for (let i = 0; i < keys.length; i += 1_000) {
      await Promise.all(keys.slice(i, i + 1_000).map((k) => a!.cache.set(k, k, { tags: ['bulk'] })));
    }
    // B and C read them into their L1 too.
    for (const i of [b!, c!]) expect(await i.cache.get('row:9999')).toBe('row:9999');
    for (const i of [b!, c!]) await Promise.all(keys.map((k) => i.cache.get(k)));
    const writes = async () => (await Promise.all(['set', 'del', 'unlink', 'evalsha'].map((c) => commandCalls(raw, c)))).reduce((a, b) => a + b);
    // Writes Redis did not confirm in time (a loaded machine) are retried: let them all land first.
    expect(await eventually(() => [a!, b!, c!].every((i) => i.cache.stats().l2.pendingWrites === 0), 10_000)).toBe(true);
    const writesBefore = await writes();
    const published = c!.cache.stats().bus.published;
    await c!.cache.invalidateTags('bulk');
    // O(1): one marker and one message, not 10 000 deletes.
    expect((await writes()) - writesBefore).toBe(1);
    expect(c!.cache.stats().bus.published - published).toBe(1);
    await sleep(100);
    for (const i of [a!, b!, c!]) {
      const values = await Promise.all(keys.map((k) => i.cache.get(k)));
      expect(values.filter((v) => v !== undefined)).toEqual([]);
    }
  });

  it('two apps with different key prefixes on one Redis never see each other’s entries or messages', async () => {
    const { app: one, cache: first } = await createApp({ redis: redis.url, keyPrefix: uniquePrefix('iso') });
    const { app: two, cache: second } = await createApp({ redis: redis.url, keyPrefix: uniquePrefix('iso') });
    try {
      await first.set('shared-name', 'first');
      expect(await second.get('shared-name')).toBeUndefined();
      await second.set('shared-name', 'second');
      await first.del('shared-name');
      await second.clear();
      await sleep(100);
      expect(await second.get('shared-name')).toBeUndefined();
      await second.set('shared-name', 'second');
      await first.clear();
      await sleep(100);
      expect(await second.get('shared-name')).toBe('second');
      expect(second.stats().bus.received).toBe(0);
    } finally {
      await one.close();
      await two.close();
    }
  });
});
