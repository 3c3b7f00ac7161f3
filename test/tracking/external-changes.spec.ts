import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, sleep } from '../support/app.js';
import { rawClient, RedisServer } from '../support/redis-server.js';
import { allSee, db, fleetOf, type Instance, redirectTargets, trackingOn, warm } from './support.js';

/**
 * Server-assisted invalidation on a single Redis: a plain ioredis client — not the library —
 * changes cached keys, and every instance's next read after delivery loads again or reads the
 * new entry. Three Nest apps, L1 TTL ten minutes.
 */
describe('tracking: changes any client makes in Redis end every L1 copy', () => {
  let redis: RedisServer;
  let raw: Redis;
  let instances: Instance[] = [];
  let keyPrefix = '';
  const sk = (id: string) => `${keyPrefix}{item:${id}}`;
  const fleet = async (n = 3, options = {}) => {
    ({ keyPrefix, instances } = await fleetOf(n, redis.url, options));
    return instances;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis);
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.app.close()));
    instances = [];
  });
  afterAll(async () => {
    await raw?.quit();
    await redis?.stop();
  });

  it('is on by default, and reports it', async () => {
    const [a] = await fleet(1);
    expect(a!.cache.stats().tracking).toMatchObject({ enabled: true, status: 'on', refusal: undefined });
  });

  it('a DEL by another client: every instance loads again', async () => {
    const all = await fleet();
    await warm(all, 'd', 'v1');
    db.set('d', 'v2');
    await raw.del(sk('d'));
    expect(await allSee(all, 'd', 'v2')).toBe(true);
  });

  it('an overwrite by another client: every instance reads the new entry without loading', async () => {
    const all = await fleet();
    await warm(all, 'o', 'v1');
    // A valid entry holding 'v2', written by the library under another key, copied over by hand.
    db.set('o2', 'v2');
    await all[0]!.catalog.find('o2');
    // The load's value is written to Redis in the background.
    expect(await eventually(async () => (await raw.exists(sk('o2'))) === 1)).toBe(true);
    const bytes = await raw.getBuffer(sk('o2'));
    const loads = all.map((i) => i.catalog.loads);
    await raw.set(sk('o'), bytes!, 'PX', 600_000);
    expect(await allSee(all, 'o', 'v2')).toBe(true);
    expect(all.map((i) => i.catalog.loads)).toEqual(loads);
  });

  it('a RENAME by another client: every instance loads again', async () => {
    const all = await fleet();
    await warm(all, 'r', 'v1');
    db.set('r', 'v2');
    await raw.rename(sk('r'), `${keyPrefix}moved`);
    expect(await allSee(all, 'r', 'v2')).toBe(true);
  });

  it('an EXPIRE by another client: every copy ends when the key expires in Redis', async () => {
    const all = await fleet();
    await warm(all, 'e', 'v1');
    db.set('e', 'v2');
    await raw.pexpire(sk('e'), 50);
    expect(await allSee(all, 'e', 'v2')).toBe(true);
  });

  it('a key longer than maxKeyLength (stored under its hash): its copies end too', async () => {
    const all = await fleet(3, { maxKeyLength: 20 });
    const id = `long-${'x'.repeat(40)}`;
    await warm(all, id, 'v1');
    const [stored] = (await raw.keys(`${keyPrefix}*#*`)).filter((k) => !k.endsWith(':ver'));
    expect(stored).toMatch(/#[\w-]{43}\}$/);
    db.set(id, 'v2');
    await raw.del(stored!);
    expect(await allSee(all, id, 'v2')).toBe(true);
  });

  it('a tag marker written by another client: entries with the tag are re-checked', async () => {
    const all = await fleet();
    await warm(all, 'tagged1', 'v1');
    db.set('tagged1', 'v2');
    await raw.set(`${keyPrefix}__tag:{shelf}`, String(Date.now()), 'PX', 600_000);
    expect(await allSee(all, 'tagged1', 'v2')).toBe(true);
  });

  it('FLUSHDB by another client: every L1 is empty after delivery', async () => {
    const all = await fleet();
    for (const id of ['f1', 'f2', 'f3']) await warm(all, id, 'v1');
    expect(all.every((i) => i.cache.stats().l1.entries >= 3)).toBe(true);
    await raw.flushdb();
    expect(await eventually(() => all.every((i) => i.cache.stats().l1.entries === 0 && i.cache.stats().tracking.flushes === 1), 2_000)).toBe(true);
  });

  it('Redis evicting cached keys under maxmemory: their copies are dropped everywhere', async () => {
    const all = await fleet();
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const id of ids) await warm(all, id, 'v1');
    for (const id of ids) db.set(id, 'v2');
    const used = Number(/used_memory:(\d+)/.exec(await raw.info('memory'))![1]);
    await raw.config('SET', 'maxmemory-policy', 'allkeys-random');
    await raw.config('SET', 'maxmemory', String(used + 512 * 1024));
    try {
      // Filler outside the prefix, until Redis has evicted some cached entries.
      let evicted: string[] = [];
      for (let round = 0; round < 200 && evicted.length === 0; round++) {
        const pipe = raw.pipeline();
        for (let j = 0; j < 20; j++) pipe.set(`filler:${round}:${j}`, 'x'.repeat(10_000));
        await pipe.exec().catch(() => undefined);
        const exists = await Promise.all(ids.map((id) => raw.exists(sk(id))));
        evicted = ids.filter((_, i) => exists[i] === 0);
      }
      expect(evicted.length).toBeGreaterThan(0);
      for (const id of evicted) expect(await allSee(all, id, 'v2')).toBe(true);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
      await raw.config('SET', 'maxmemory-policy', 'noeviction');
      await raw.flushdb();
    }
  });

  it('the tracking connection killed, then Redis restarted: no stale read once tracking is back', async () => {
    const all = await fleet();
    await warm(all, 'k', 'v1');
    const targets = await redirectTargets(raw);
    expect(targets.length).toBe(3);
    for (const id of targets) await raw.client('KILL', 'ID', id);
    // Changed while no instance hears of it.
    db.set('k', 'v2');
    await raw.del(sk('k'));
    expect(await trackingOn(all)).toBe(true);
    for (const i of all) expect(await i.catalog.find('k')).toBe('v2');
    expect(all.every((i) => i.cache.stats().tracking.gaps >= 1)).toBe(true);

    await warm(all, 'k2', 'v1');
    db.set('k2', 'v2');
    await redis.kill();
    await sleep(100);
    await redis.start();
    // The restarted Redis is empty: whatever L1 held is not what it holds now.
    expect(await trackingOn(all)).toBe(true);
    for (const i of all) expect(await i.catalog.find('k2')).toBe('v2');
  });

  it('tracking: false keeps the L1 copy after a change by another client (control)', async () => {
    const all = await fleet(3, { tracking: false });
    expect(all[0]!.cache.stats().tracking).toMatchObject({ enabled: false, status: 'off' });
    await warm(all, 'c', 'v1');
    db.set('c', 'v2');
    await raw.del(sk('c'));
    await sleep(300);
    for (const i of all) expect(await i.catalog.find('c')).toBe('v1');
    expect(await redirectTargets(raw)).toEqual([]);
  });

  it('a server that refuses CLIENT TRACKING: said at bootstrap, shown in stats and metrics, and the bus still invalidates', async () => {
    await raw.call('ACL', 'SETUSER', 'noclient', 'on', '>pw', '~*', '&*', '+@all', '-client');
    const warn = vi.spyOn(Logger.prototype, 'warn');
    try {
      const url = `redis://noclient:pw@${redis.host}:${redis.port}`;
      const all = await fleet(2, { redis: url });
      const said = warn.mock.calls.filter(([m]) => String(m).includes('refused CLIENT TRACKING'));
      expect(said.length).toBe(2); // once per instance
      for (const i of all)
        expect(i.cache.stats().tracking).toMatchObject({ enabled: true, status: 'refused', refusal: expect.stringMatching(/NOPERM|permission/i) });
      const registry = new Registry();
      registerTieredCacheMetrics(all[0]!.cache, { registry });
      expect(await registry.getSingleMetricAsString('tiered_cache_tracking_refused')).toMatch(/tiered_cache_tracking_refused 1/);
      await warm(all, 'b', 'v1');
      db.set('b', 'v2');
      await all[0]!.cache.del('item:b');
      expect(await allSee(all, 'b', 'v2')).toBe(true);
    } finally {
      warn.mockRestore();
      await raw.call('ACL', 'DELUSER', 'noclient');
    }
  });

  it('a client passed in is tracked while the app runs and left with tracking off after shutdown', async () => {
    const client = rawClient(redis);
    try {
      const [a] = await fleet(1, { redis: client });
      expect(a!.cache.stats().tracking.status).toBe('on');
      expect(String(await client.call('CLIENT', 'TRACKINGINFO'))).toContain('bcast');
      await a!.app.close();
      instances = [];
      expect(client.status).toBe('ready');
      expect(await client.call('CLIENT', 'TRACKINGINFO')).toEqual(['flags', ['off'], 'redirect', -1, 'prefixes', []]);
    } finally {
      await client.quit();
    }
  });

  it('with bus: false, the library’s own writes still reach every instance through tracking alone', async () => {
    const all = await fleet(3, { bus: false });
    await warm(all, 'n', 'v1');
    await all[0]!.cache.set('item:n', 'v2');
    expect(await allSee(all, 'n', 'v2')).toBe(true);
    await warm(all, 'n2', 'v1');
    db.set('n2', 'v2');
    await all[1]!.cache.del('item:n2');
    expect(await allSee(all, 'n2', 'v2')).toBe(true);
    await warm(all, 'n3', 'v1');
    db.set('n3', 'v2');
    await all[2]!.cache.clear();
    expect(await allSee(all, 'n3', 'v2')).toBe(true);
    await warm(all, 'tagged-n4', 'v1');
    db.set('tagged-n4', 'v2');
    await all[0]!.cache.invalidateTags(['shelf']);
    expect(await allSee(all, 'tagged-n4', 'v2')).toBe(true);
  });

  it('the echo of the writer’s own delete does not stop its next load from storing', async () => {
    const [a] = await fleet(1);
    await a!.cache.set('slow', 'v1');
    await a!.cache.del('slow');
    // A load that is still running when the echo of the delete arrives.
    const loaded = await a!.cache.getOrSet('slow', async () => {
      await sleep(100);
      return 'v2';
    });
    expect(loaded).toBe('v2');
    expect(await eventually(async () => (await raw.exists(`${keyPrefix}{slow}`)) === 1)).toBe(true);
  });

  it('checks the echoes of many writes made at once with one read per message, and keeps every copy', async () => {
    const [a] = await fleet(1);
    const ids = Array.from({ length: 50 }, (_, i) => `many${i}`);
    await raw.config('RESETSTAT');
    await Promise.all(ids.map((id) => a!.cache.set(`item:${id}`, id)));
    await sleep(200); // the echoes have been checked
    const stats = await raw.info('commandstats');
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    // Commandstats count the commands a script runs too: each write's script reads its version and
    // the cache's clear marker. A GET per echo would add 50 more.
    expect(calls('get')).toBeLessThanOrEqual(2 * calls('evalsha'));
    expect(calls('mget')).toBeGreaterThan(0);
    expect(calls('mget')).toBeLessThan(ids.length);
    const hits = a!.cache.stats().l1.hits;
    for (const id of ids) expect(await a!.catalog.find(id)).toBe(id);
    expect(a!.cache.stats().l1.hits).toBe(hits + ids.length);
  });

  it('another client overwriting keys right after this instance wrote them: those copies end, the others stay', async () => {
    const [a] = await fleet(1);
    const ids = Array.from({ length: 20 }, (_, i) => `raced${i}`);
    // A valid entry holding 'theirs', written by the library under another key, copied over by hand.
    await a!.cache.set('item:theirs', 'theirs');
    const bytes = await raw.getBuffer(sk('theirs'));
    await Promise.all(ids.map((id) => a!.cache.set(`item:${id}`, 'mine')));
    // While the echoes of these writes are checked, every other key is overwritten.
    await Promise.all(ids.filter((_, i) => i % 2 === 1).map((id) => raw.set(sk(id), bytes!, 'PX', 600_000)));
    await sleep(200);
    for (const [i, id] of ids.entries()) expect(await a!.catalog.find(id)).toBe(i % 2 === 1 ? 'theirs' : 'mine');
  });

  it('the writer keeps its own fresh copy: the echo of its own write is checked, not obeyed', async () => {
    const [a] = await fleet(1);
    await a!.cache.set('item:own', 'mine');
    await sleep(100); // the echo (if the server sends one) has been checked
    const hits = a!.cache.stats().l1.hits;
    expect(await a!.catalog.find('own')).toBe('mine');
    expect(a!.cache.stats().l1.hits).toBe(hits + 1);
  });
});
