import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONSEQUENCES } from '../../lib/l2/redis-permissions.js';
import { keySlot } from '../../lib/l2/key-slot.js';
import { aclDenials, cacheUserRules, createCacheUser } from '../support/acl.js';
import { nodeCall, RedisCluster } from '../support/redis-cluster.js';
import { RedisSentinelSet } from '../support/redis-sentinel.js';
import { eventually, sleep, uniquePrefix } from '../support/app.js';
import { rawClient, RedisServer } from '../support/redis-server.js';
import { observedApp, type ObservedApp } from '../support/security-app.js';

describe('a least-privilege Redis ACL user', () => {
  let redis: RedisServer;
  let admin: Redis;
  const apps: ObservedApp[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    admin = rawClient(redis);
  });
  afterEach(async () => {
    while (apps.length) await apps.pop()!.app.close();
  });
  afterAll(async () => {
    await admin?.quit();
    await redis?.stop();
  });

  async function appAs(user: string, keyPrefix: string): Promise<ObservedApp> {
    const app = await observedApp({
      keyPrefix,
      redis: { host: redis.host, port: redis.port, username: user, password: `${user}-password` },
      // Long enough that only the bus can end the other instance's L1 copy within the test.
      l1: { max: 1_000, ttl: 60_000 },
    });
    apps.push(app);
    return app;
  }

  it("runs reads, evictions across two apps, a stampede, tags and clear() with the README's ACL, and Redis refuses nothing", async () => {
    const prefix = uniquePrefix('acl');
    await createCacheUser(admin, 'cache', 'cache-password', prefix);
    await admin.call('ACL', 'LOG', 'RESET');
    const a = await appAs('cache', prefix);
    const b = await appAs('cache', prefix);

    await runCoreScenario(a, b, async (key) => (await admin.exists(`${prefix}{${key}}`)) === 1);

    expect(await aclDenials(admin)).toEqual([]);
    for (const app of [a, b]) await expectNothingMissing(app);
  });

  it("does the same through Sentinel, with the README's ACL for the sentinels", async () => {
    const set = await RedisSentinelSet.start();
    try {
      const prefix = uniquePrefix('acl');
      for (const port of set.dataPorts) {
        await nodeCall(port, ['ACL', 'SETUSER', 'cache', 'on', '>cache-password', ...cacheUserRules(prefix)]);
        await nodeCall(port, ['ACL', 'LOG', 'RESET']);
      }
      for (const { port } of set.sentinels) {
        await nodeCall(port, ['ACL', 'SETUSER', 'sentinel-reader', 'on', '>sentinel-password', ...SENTINEL_RULES]);
        await nodeCall(port, ['ACL', 'LOG', 'RESET']);
      }
      const options = {
        sentinels: set.sentinels,
        name: set.name,
        username: 'cache',
        password: 'cache-password',
        sentinelUsername: 'sentinel-reader',
        sentinelPassword: 'sentinel-password',
      };
      const a = await observedApp({ keyPrefix: prefix, redis: options, l1: { max: 1_000, ttl: 60_000 } });
      apps.push(a);
      const b = await observedApp({ keyPrefix: prefix, redis: options, l1: { max: 1_000, ttl: 60_000 } });
      apps.push(b);
      const primary = await set.primaryPort();

      await runCoreScenario(a, b, async (key) => (await nodeCall(primary, ['EXISTS', `${prefix}{${key}}`])) === 1);

      for (const port of [...set.dataPorts, ...set.sentinels.map((s) => s.port)]) expect(await nodeCall(port, ['ACL', 'LOG'])).toEqual([]);
      for (const app of [a, b]) await expectNothingMissing(app);
    } finally {
      while (apps.length) await apps.pop()!.app.close();
      await set.stop();
    }
  });

  it('is the ACL the README gives, for a single Redis, a Cluster and Sentinel', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

    expect(readme).toContain(`ACL SETUSER cache on >long-random-password ${cacheUserRules('shop:').join(' ')} \``);
    expect(readme).toContain(`On a Cluster add \`${CLUSTER_ADDITIONS.join(' ')}\``);
    expect(readme).toContain(`the sentinels' user needs \`${SENTINEL_RULES.filter((r) => r !== '-@all').join(' ')}\``);
  });

  it('does the same on a Redis Cluster with the Cluster additions', async () => {
    const cluster = await RedisCluster.start({ primaries: 3, replicas: 0 });
    try {
      const prefix = uniquePrefix('acl');
      const rules = [...cacheUserRules(prefix), ...CLUSTER_ADDITIONS];
      for (const port of cluster.ports) {
        await nodeCall(port, ['ACL', 'SETUSER', 'cache', 'on', '>cache-password', ...rules]);
        await nodeCall(port, ['ACL', 'LOG', 'RESET']);
      }
      const options = { cluster: cluster.startupNodes, options: { redisOptions: { username: 'cache', password: 'cache-password' } } };
      const a = await observedApp({ keyPrefix: prefix, redis: options, l1: { max: 1_000, ttl: 60_000 } });
      apps.push(a);
      const b = await observedApp({ keyPrefix: prefix, redis: options, l1: { max: 1_000, ttl: 60_000 } });
      apps.push(b);

      const stored = async (key: string) => {
        const port = await cluster.primaryPortFor(keySlot(`${prefix}{${key}}`));
        return (await nodeCall(port, ['EXISTS', `${prefix}{${key}}`])) === 1;
      };
      await runCoreScenario(a, b, stored);

      for (const port of cluster.ports) expect(await nodeCall(port, ['ACL', 'LOG'])).toEqual([]);
      for (const app of [a, b]) await expectNothingMissing(app);
    } finally {
      while (apps.length) await apps.pop()!.app.close();
      await cluster.stop();
    }
  });

  it.each([
    ['publish', /other instances are not told of writes and evictions/],
    ['subscribe', /this instance is not told of other instances' writes/],
    ['evalsha', /lease and store scripts fail/],
    ['unlink', /del\(\), @CacheEvict and clear\(\) do not remove entries from Redis/],
    ['scan', /clear\(\) and allEntries/],
    ['script|load', /scripts are not loaded on connect/],
  ] as const)('without %s: one error at bootstrap names the command and what stops working, in stats() and /health too', async (command, consequence) => {
    const user = `no-${command.replace('|', '-')}`;
    const prefix = uniquePrefix('acl');
    await createCacheUser(admin, user, `${user}-password`, prefix, { without: [command] });
    const { cache, health, logs } = await appAs(user, prefix);

    // One error names the permission; without SUBSCRIBE, tracking (which subscribes too) also
    // says, once, as a warning, that it is off.
    const lines = logs.matching(/permission/i).filter((l) => l.level === 'error');
    expect(lines).toHaveLength(1);
    expect(
      logs
        .matching(/permission/i)
        .filter((l) => l.level !== 'error')
        .every((l) => /CLIENT TRACKING/.test(l.text)),
    ).toBe(true);
    expect(lines[0]!.text).toContain(`ACL SETUSER <user> +${command}.`);
    expect(lines[0]!.text).toContain(`${command.toUpperCase()} (+${command}): `);
    expect(lines[0]!.text).toMatch(consequence);
    expect(lines[0]!.text).toContain(CONSEQUENCES[command.toUpperCase() as keyof typeof CONSEQUENCES]);

    expect(cache.stats()).toMatchObject({ degraded: true, l2: { connected: true, problem: 'permission', missingPermissions: [`+${command}`] } });
    expect(await health.isHealthy()).toMatchObject({
      cache: { status: 'degraded', redis: { status: 'up', problem: 'permission', missingPermissions: [`+${command}`], message: lines[0]!.text } },
    });
    expect(await health.isHealthy('cache', { requireRedis: true })).toMatchObject({ cache: { status: 'down' } });
    // The cache still answers every call.
    await expect(cache.getOrSet('k', async () => 'value')).resolves.toBe('value');
  });

  it('does not open the circuit breaker for refused commands: Redis answered, and GET still serves', async () => {
    const prefix = uniquePrefix('acl');
    await createCacheUser(admin, 'no-scripts', 'no-scripts-password', prefix, { without: ['evalsha', 'eval'] });
    const { cache } = await appAs('no-scripts', prefix);

    // Every miss's lease script is refused: before, five in a row opened the breaker.
    for (let i = 0; i < 12; i++) await expect(cache.getOrSet(`miss:${i}`, async () => i)).resolves.toBe(i);

    expect(cache.stats().l2).toMatchObject({ breaker: 'closed', breakerOpens: 0, missingPermissions: ['+evalsha', '+eval'] });
    expect(cache.stats().l2.errors).toBeGreaterThan(0);
    // What another instance (with every permission) stored is read from Redis.
    const writer = await observedApp({ keyPrefix: prefix, redis: redis.url });
    apps.push(writer);
    await writer.cache.set('shared', 'stored by another instance');
    expect(await cache.get('shared')).toBe('stored by another instance');
  });

  it('names key and channel patterns the user lacks, by the rule to grant', async () => {
    const prefix = uniquePrefix('acl');
    await admin.call('ACL', 'DELUSER', 'wrong-patterns');
    await admin.call('ACL', 'SETUSER', 'wrong-patterns', 'on', '>wrong-patterns-password', '~someone-else:*', '&someone-else:*', '+@all');
    const { cache, logs } = await appAs('wrong-patterns', prefix);

    expect(cache.stats().l2.missingPermissions).toEqual([`~${prefix}*`, `&${prefix}__bus:v1`]);
    expect(logs.matching(/permission/i, 'error')).toHaveLength(1);
    await expect(cache.getOrSet('k', async () => 'value')).resolves.toBe('value');
  });

  it('checks again on each reconnection: a granted permission clears the problem, with one message', async () => {
    const prefix = uniquePrefix('acl');
    await createCacheUser(admin, 'granted-later', 'granted-later-password', prefix, { without: ['publish'] });
    const { cache, health, logs } = await appAs('granted-later', prefix);
    expect(cache.stats().l2.missingPermissions).toEqual(['+publish']);

    await admin.call('ACL', 'SETUSER', 'granted-later', '+publish');
    await admin.client('KILL', 'USER', 'granted-later');

    expect(await eventually(() => cache.stats().l2.problem === undefined && cache.stats().l2.connected, 10_000)).toBe(true);
    expect(logs.matching(/now has every permission/)).toHaveLength(1);
    expect(logs.matching(/lacks permissions/)).toHaveLength(1);
    expect(await eventually(async () => (await health.isHealthy()).cache.status === 'up', 10_000)).toBe(true);
  });
});

/** The README's ACL for the sentinels' user. */
const SENTINEL_RULES = ['-@all', '+sentinel|get-master-addr-by-name', '+sentinel|sentinels'];

/** The README's Cluster additions to the ACL. */
const CLUSTER_ADDITIONS = ['+cluster|slots', '+cluster|info', '+readwrite', '+asking', '+client|setname'];

/**
 * The core of what a cache does, across two apps sharing a prefix: a cached read (one load,
 * then L1 here and Redis there), an eviction reaching the other app's L1 through the bus, a
 * stampede running one loader fleet-wide, a tag invalidation, and clear(). `storedInRedis` says
 * whether a key is in Redis now.
 */
async function runCoreScenario(a: ObservedApp, b: ObservedApp, storedInRedis: (key: string) => Promise<boolean>): Promise<void> {
  let loads = 0;
  const load =
    (value: string, ms = 0) =>
    async () => {
      loads++;
      await sleep(ms);
      return value;
    };

  expect(await a.cache.getOrSet('product:1', load('v1'))).toBe('v1');
  expect(await a.cache.getOrSet('product:1', load('other'))).toBe('v1');
  expect(await b.cache.getOrSet('product:1', load('other'))).toBe('v1');
  expect(loads).toBe(1);
  expect(await storedInRedis('product:1')).toBe(true);

  await a.cache.del('product:1');
  expect(await eventually(async () => (await b.cache.get('product:1')) === undefined)).toBe(true);

  loads = 0;
  const callers = Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).cache.getOrSet('report', load('report', 300)));
  expect(new Set(await Promise.all(callers))).toEqual(new Set(['report']));
  expect(loads).toBe(1);

  expect(await a.cache.getOrSet('tagged', load('t1'), { tags: ['catalog'] })).toBe('t1');
  expect(await b.cache.getOrSet('tagged', load('other'), { tags: ['catalog'] })).toBe('t1');
  await a.cache.invalidateTags('catalog');
  expect(await eventually(async () => (await b.cache.getOrSet('tagged', load('t2'), { tags: ['catalog'] })) === 't2')).toBe(true);

  await a.cache.set('x', 1);
  await a.cache.clear();
  expect(await eventually(async () => (await b.cache.get('x')) === undefined)).toBe(true);
  expect(await storedInRedis('x')).toBe(false);
}

async function expectNothingMissing(app: ObservedApp): Promise<void> {
  expect(app.cache.stats().l2).toMatchObject({ connected: true, problem: undefined, missingPermissions: [] });
  expect(app.logs.matching(/permission|NOPERM/i)).toEqual([]);
  expect(await app.health.isHealthy()).toMatchObject({ cache: { status: 'up', redis: { status: 'up' }, bus: { status: 'up' } } });
}
