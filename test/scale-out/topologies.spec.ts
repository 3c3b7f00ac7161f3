import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict, type TieredCacheModuleOptions, type TieredCacheService } from 'nestjs-tiered-cache';
import { busChannel } from '../../lib/bus/bus-message.js';
import { keySlot } from '../../lib/l2/key-slot.js';
import { clusterOptions, createRedisClient } from '../../lib/l2/redis-connection.js';
import { RedisTier } from '../../lib/l2/redis-tier.js';
import { writeTime } from '../../lib/shared/shared-tier.interface.js';
import { CacheStats } from '../../lib/stats/cache-stats.js';
import { createApp, eventually, sleep, uniquePrefix } from '../support/app.js';
import { FleetInstance } from '../support/fleet.js';
import { nodeCommand, RedisCluster } from '../support/redis-cluster.js';
import { startCluster, startStandalone, type Topology, withoutVersions } from '../support/topology.js';

/** The database every instance reads. */
const db = new Map<string, string>();

@Injectable()
class Catalog {
  loads = 0;
  @Cacheable({ key: (id: string) => `item:${id}` })
  async find(id: string): Promise<string | undefined> {
    this.loads++;
    return db.get(id);
  }

  @CacheEvict({ key: (id: string) => `item:${id}` })
  async update(id: string, value: string): Promise<void> {
    db.set(id, value);
  }
}

interface Batch {
  results: { ok: boolean; value?: unknown; error?: string }[];
  stats: any;
}

/**
 * The core behaviours, once on a single Redis and once on a 3-primary + 3-replica Cluster: the
 * same tests, the same assertions. Keys are spread over every hash slot, so anything that sent a
 * multi-key command across slots would fail here with CROSSSLOT (counted as an L2 error).
 */
describe.each([
  ['standalone', startStandalone],
  ['cluster', startCluster],
] as const)('on %s Redis', (_name, start) => {
  let topo: Topology;
  const closers: (() => Promise<void>)[] = [];
  let fleet: FleetInstance[] = [];

  const app = async (options: TieredCacheModuleOptions = {}, providers: any[] = []) => {
    // A generous l2Timeout: these tests are about correctness on a busy CI machine, not timeouts.
    const created = await createApp({ redis: topo.redis, l2Timeout: 2_000, ...options }, { providers });
    closers.push(() => created.app.close());
    return created;
  };
  /** No command failed or timed out on any of these caches (a CROSSSLOT error would be one). */
  const clean = (...caches: TieredCacheService[]) => {
    for (const c of caches) expect(c.stats().l2).toMatchObject({ errors: 0, timeouts: 0 });
  };

  beforeAll(async () => {
    topo = await start();
  });
  afterEach(async () => {
    await Promise.all(fleet.map((f) => f.stop()));
    fleet = [];
    while (closers.length) await closers.pop()!();
    db.clear();
  });
  afterAll(async () => {
    await topo?.stop();
  });

  it('set, get and one del() of 300 keys spread over every primary; no CROSSSLOT error', async () => {
    const keyPrefix = uniquePrefix('many');
    const { cache: a } = await app({ keyPrefix, l1: false });
    const { cache: b } = await app({ keyPrefix, l1: false });
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => a.set(k, k)));
    // Loads take (and free) a lease beside the value, in the value's slot.
    expect(await Promise.all(keys.map((k) => b.getOrSet(`loaded:${k}`, async () => k)))).toEqual(keys);
    expect(await b.getMany(keys)).toEqual(keys);
    const perPrimary = await Promise.all(topo.primaries().map(async (n) => (await n.dbsize()) > 0));
    expect(perPrimary.every(Boolean)).toBe(true);
    expect(new Set(keys.map((k) => keySlot(`${keyPrefix}{${k}}`))).size).toBeGreaterThan(250);

    await a.del([...keys, ...keys.map((k) => `loaded:${k}`)]);
    expect(withoutVersions(await topo.keys(`${keyPrefix}*`))).toEqual([]);
    expect((await b.getMany(keys)).filter((v) => v !== undefined)).toEqual([]);
    clean(a, b);
  });

  it('clear() scans every primary and removes only its prefix (SCAN + UNLINK, never KEYS or FLUSHDB)', async () => {
    const minePrefix = uniquePrefix('mine');
    const { cache: mine } = await app({ keyPrefix: minePrefix });
    const { cache: theirs } = await app({ keyPrefix: uniquePrefix('theirs') });
    await Promise.all(Array.from({ length: 1_200 }, (_, i) => mine.set(`k${i}`, i)));
    await theirs.set('keep', 'me');
    const before = await topo.callsPerPrimary('unlink');
    await mine.clear();
    expect(withoutVersions(await topo.keys(`${minePrefix}*`))).toEqual([]);
    expect(await mine.get('k1')).toBeUndefined();
    expect(await theirs.get('keep')).toBe('me');
    const after = await topo.callsPerPrimary('unlink');
    // Every primary deleted its share.
    expect(after.every((n, i) => n > before[i]!)).toBe(true);
    for (const cmd of ['keys', 'flushdb', 'flushall']) expect((await topo.callsPerPrimary(cmd)).every((n) => n === 0)).toBe(true);
    clean(mine, theirs);
  });

  // Issue 13: a write dated before clear() that reaches Redis after it (retried after an outage)
  // is dropped by its own script, which reads the clear marker of its slot.
  it('clear() marks every slot first: writes dated before it that land after it are dropped, in any slot', async () => {
    const keyPrefix = uniquePrefix('clear-order');
    const { cache: a } = await app({ keyPrefix, l1: false });
    const tier = new RedisTier(createRedisClient(topo.redis as Exclude<typeof topo.redis, Redis | Cluster>), false, 2_000, new CacheStats());
    await tier.connect(5_000);
    closers.push(() => tier.close());
    const keys = Array.from({ length: 300 }, (_, i) => `${keyPrefix}{k${i}}`);
    const before = writeTime();
    await a.clear();
    expect(await Promise.all(keys.map((k) => tier.put(k, 'made before', 60_000, before, true)))).toEqual(keys.map(() => true));
    expect(withoutVersions(await topo.keys(`${keyPrefix}*`))).toEqual([]);
    await Promise.all(keys.map((k) => tier.put(k, 'made after', 60_000)));
    expect(withoutVersions(await topo.keys(`${keyPrefix}*`)).sort()).toEqual([...keys].sort());
    clean(a);
  });

  it('tags: one invalidateTags() hides tagged entries of every slot, also for an instance that missed the message', async () => {
    const keyPrefix = uniquePrefix('tags');
    const { cache: a } = await app({ keyPrefix });
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.set(`red:${i}`, i, { tags: ['red'] })));
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.set(`blue:${i}`, i, { tags: ['blue'] })));
    await a.invalidateTags('red');
    // A fresh instance learns the tag's marker from Redis, not from the bus.
    const { cache: fresh } = await app({ keyPrefix });
    const red = await fresh.getMany(Array.from({ length: 100 }, (_, i) => `red:${i}`));
    const blue = await fresh.getMany(Array.from({ length: 100 }, (_, i) => `blue:${i}`));
    expect(red.filter((v) => v !== undefined)).toEqual([]);
    expect(blue).toEqual(Array.from({ length: 100 }, (_, i) => i));
    clean(a, fresh);
  });

  it('odd keys (spaces, unicode, glob characters, braces, very long) are stored, read and cleared', async () => {
    const { cache } = await app({ keyPrefix: uniquePrefix('odd'), l1: false });
    const keys = ['a b', 'ключ 🔑', 'p*[x]?', 'line\nbreak', '{braces}', 'a}b{c', 'x'.repeat(5_000)];
    for (const [i, k] of keys.entries()) await cache.set(k, i);
    for (const [i, k] of keys.entries()) expect(await cache.getOrSet(k, async () => -1)).toBe(i);
    await cache.del(keys);
    for (const k of keys) expect(await cache.get(k)).toBeUndefined();
    for (const [i, k] of keys.entries()) await cache.set(k, i);
    await cache.clear();
    for (const k of keys) expect(await cache.get(k)).toBeUndefined();
    clean(cache);
  });

  it('three apps × 100 concurrent calls on one cold key run the loader once (lease and value share a slot)', async () => {
    const keyPrefix = uniquePrefix('lease');
    const apps = await Promise.all([0, 1, 2].map(() => app({ keyPrefix })));
    let loads = 0;
    const results = await Promise.all(
      apps.flatMap(({ cache }) =>
        Array.from({ length: 100 }, () =>
          cache.getOrSet('cold', async () => {
            loads++;
            await sleep(50);
            return { n: loads };
          }),
        ),
      ),
    );
    expect(loads).toBe(1);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(apps.reduce((n, a) => n + a.cache.stats().lease.waits, 0)).toBeLessThanOrEqual(2);
    clean(...apps.map((a) => a.cache));
  });

  it('4 processes × 250 concurrent calls on one cold key run the loader exactly once', async () => {
    const keyPrefix = uniquePrefix('fleet');
    fleet = await Promise.all([0, 1, 2, 3].map(() => FleetInstance.start(topo.redis, keyPrefix, { l2Timeout: 2_000 })));
    const batches = await Promise.all(fleet.map((f) => f.send<Batch>('getOrSet', { key: 'cold', n: 250, loaderMs: 50 })));
    const results = batches.flatMap((b) => b.results);
    expect(results).toHaveLength(1_000);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(results.map((r) => JSON.stringify(r.value))).size).toBe(1);
    expect(Number(await topo.raw.get(`count:${keyPrefix}cold`))).toBe(1);
    // Every other process waited for the holder (unless it came late and found the value).
    expect(batches.reduce((n, b) => n + b.stats.lease.waits, 0)).toBeLessThanOrEqual(3);
    for (const b of batches) expect(b.stats.l2).toMatchObject({ errors: 0, timeouts: 0 });
  });

  it('the lease FILL message, published inside a Lua script on the key’s primary, reaches subscribers on every node', async () => {
    const keyPrefix = uniquePrefix('fill');
    const ports = topo.name === 'cluster' ? (topo as Topology & { cluster: RedisCluster }).cluster.ports : [undefined];
    const subscribers = ports.map((port) =>
      port === undefined ? (topo.raw as Redis).duplicate() : new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }),
    );
    try {
      const received = subscribers.map(() => [] as string[]);
      await Promise.all(
        subscribers.map(async (s, i) => {
          s.on('message', (_channel: string, raw: string) => received[i]!.push(JSON.parse(raw).o));
          await s.subscribe(busChannel(keyPrefix));
        }),
      );
      // Without tracking every fill is announced (with it, only those another instance waits for).
      const { cache } = await app({ keyPrefix, tracking: false });
      await Promise.all(Array.from({ length: 20 }, (_, i) => cache.getOrSet(`k${i}`, async () => i)));
      expect(await eventually(() => received.every((r) => r.filter((o) => o === 'fill').length === 20), 3_000)).toBe(true);
    } finally {
      for (const s of subscribers) s.disconnect();
    }
  });

  it('bus: set, @CacheEvict and clear() on B reach A and C, whichever nodes their connections use', async () => {
    const keyPrefix = uniquePrefix('bus');
    const apps = await Promise.all([0, 1, 2].map(() => app({ keyPrefix, l1: { ttl: 60_000 } }, [Catalog])));
    const [a, b, c] = apps.map(({ app: nest, cache }) => ({ cache, catalog: nest.get(Catalog) }));
    expect(await eventually(() => apps.every((x) => x.cache.stats().bus.connected), 5_000)).toBe(true);
    const sees = async (value: string | undefined) =>
      await eventually(async () => (await a!.catalog.find('1')) === value && (await c!.catalog.find('1')) === value, 3_000);

    db.set('1', 'v1');
    for (const x of [a!, b!, c!]) expect(await x.catalog.find('1')).toBe('v1');
    await b!.catalog.update('1', 'v2');
    expect(await sees('v2')).toBe(true);

    db.set('1', 'v3');
    await b!.cache.set('item:1', 'v3');
    expect(await sees('v3')).toBe(true);

    db.set('1', 'v4');
    await b!.cache.clear();
    expect(await sees('v4')).toBe(true);
    for (const x of apps) expect(x.cache.stats().bus.publishFailures).toBe(0);
    clean(...apps.map((x) => x.cache));
  });

  it('a client instance passed in (Redis or Cluster) is used as is and left open after app.close()', async () => {
    const client = topo.name === 'cluster' ? new Cluster((topo.redis as { cluster: never[] }).cluster) : new Redis(topo.redis as string);
    try {
      const { app: nest, cache } = await createApp({ redis: client, keyPrefix: uniquePrefix('passed') });
      await cache.set('a', 1);
      expect(await cache.get('a')).toBe(1);
      await nest.close();
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
  });

  // Only a Cluster answers CLUSTER KEYSLOT.
  if (_name === 'cluster') {
    it('keySlot() (used to split deletes) agrees with CLUSTER KEYSLOT', async () => {
      const port = (topo as Topology & { cluster: RedisCluster }).cluster.ports[0]!;
      const keys = ['', 'a', 'foo{}{bar}', 'foo{{bar}}zap', '{user1000}.following', 'ключ 🔑', 'p:{a}b{c}', 'p:{}x}', 'x'.repeat(300)];
      for (let i = 0; i < 50; i++) keys.push(`shop:{product:${i}}`, `shop:{product:${i}}:lease`, `shop:__tag:{t${i}}`);
      for (const k of keys) expect([k, keySlot(k)]).toEqual([k, Number(await nodeCommand(port, ['CLUSTER', 'KEYSLOT', k]))]);
    });
  }

  it('an eviction during an in-flight load leaves nothing stale (bus off: the FILL script sees the lease gone)', async () => {
    const keyPrefix = uniquePrefix('stale');
    const { cache: a } = await app({ keyPrefix, bus: false });
    const { cache: b } = await app({ keyPrefix, bus: false });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const load = a.getOrSet('row', async () => {
      await gate;
      return 'before-update';
    });
    await sleep(50);
    await b.del('row');
    release();
    expect(await load).toBe('before-update');
    await eventually(() => a.stats().lease.lost === 1, 2_000);
    expect(a.stats().lease.lost).toBe(1);
    expect(withoutVersions(await topo.keys(`${keyPrefix}*`))).toEqual([]);
    expect(await a.get('row')).toBeUndefined();
    expect(await b.get('row')).toBeUndefined();
    clean(a, b);
  });
});

describe('Cluster and Sentinel options', () => {
  it.each([
    [{ redis: { cluster: [] } }, /"redis\.cluster": give the startup nodes/],
    [{ redis: { cluster: [{ host: '127.0.0.1', port: 'x' }] } }, /"redis\.cluster\[0\]": give \{ host, port \}/],
    [{ redis: [{ host: '127.0.0.1', port: 7000 }] }, /"redis": a list of nodes is a Cluster: give \{ cluster:/],
    [{ redis: { cluster: [7000], redisOptions: {} } }, /"redis\.redisOptions": unknown option of a Cluster/],
    [{ redis: { cluster: [7000], options: 'x' } }, /"redis\.options": give ioredis ClusterOptions/],
    [{ redis: { sentinels: [{ host: '127.0.0.1', port: 26379 }] } }, /"redis\.name": give the name of the primary/],
    [{ redis: { sentinels: [], name: 'mymaster' } }, /"redis\.sentinels": give the sentinels/],
  ])('rejects %j at bootstrap with a message naming the fix', async (options, message) => {
    await expect(createApp(options as TieredCacheModuleOptions)).rejects.toThrow(message);
  });

  it('a Cluster the library creates gets the defaults (no offline queue, auto-pipelining, lazy, back-off); yours win', () => {
    const o = clusterOptions({ redisOptions: { connectionName: 'mine' }, enableAutoPipelining: false });
    expect(o).toMatchObject({
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: false,
      scaleReads: 'master',
      redisOptions: { connectionName: 'mine', maxRetriesPerRequest: 1, disconnectTimeout: 200 },
    });
    expect([1, 2, 3, 10].map((t) => o.clusterRetryStrategy!(t))).toEqual([100, 200, 400, 2_000]);
    const { client, owned } = createRedisClient({ cluster: [{ host: '127.0.0.1', port: 1 }] });
    expect(owned).toBe(true);
    expect(client).toBeInstanceOf(Cluster);
    expect(client.status).toBe('wait'); // lazy: nothing connects before the module starts it
    client.disconnect();
  });
});
