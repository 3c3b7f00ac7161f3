import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, uniquePrefix } from '../support/app.js';
import { FleetInstance } from '../support/fleet.js';
import { rawClient, RedisServer } from '../support/redis-server.js';
import { aclDenials, cacheUserUrl } from '../support/acl.js';

interface CallResult {
  ok: boolean;
  value?: unknown;
  error?: string;
  ms: number;
}
interface Batch {
  results: CallResult[];
  stats: any;
  ms: number;
}

describe('stampede protection across instances (separate OS processes on one Redis)', () => {
  let redis: RedisServer;
  let raw: Redis;
  let fleet: FleetInstance[] = [];

  const startFleet = async (n: number, options: object = {}) => {
    const keyPrefix = uniquePrefix('fleet');
    // As the least-privilege ACL user of the README (Redis refusing nothing is checked after all).
    const url = await cacheUserUrl(raw, redis.port, keyPrefix);
    // A generous l2Timeout: on a busy machine a slow Redis reply must not count as Redis being away.
    fleet = await Promise.all(Array.from({ length: n }, () => FleetInstance.start(url, keyPrefix, { l2Timeout: 2_000, ...options }, redis.url)));
    return keyPrefix;
  };
  const loads = async (keyPrefix: string, key: string) => Number((await raw.get(`count:${keyPrefix}${key}`)) ?? 0);

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis);
    await raw.call('ACL', 'LOG', 'RESET');
  });
  afterEach(async () => {
    await Promise.all(fleet.map((f) => f.stop()));
    fleet = [];
  });
  afterAll(async () => {
    expect(await aclDenials(raw), 'commands Redis refused the least-privilege cache user').toEqual([]);
    await raw.quit();
    await redis.stop();
  });

  it('4 processes x 250 concurrent calls on one cold key run the loader exactly once', async () => {
    const keyPrefix = await startFleet(4);
    const batches = await Promise.all(fleet.map((f) => f.send<Batch>('getOrSet', { key: 'cold', n: 250, loaderMs: 50 })));
    const results = batches.flatMap((b) => b.results);
    expect(results).toHaveLength(1_000);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(results.map((r) => JSON.stringify(r.value))).size).toBe(1);
    expect(await loads(keyPrefix, 'cold')).toBe(1);
    const leaseWaits = batches.reduce((n, b) => n + b.stats.lease.waits, 0);
    expect(leaseWaits).toBe(3);
  });

  it('when the lease holder is SIGKILLed mid-load, its lease expires and exactly one waiter takes over', async () => {
    const keyPrefix = await startFleet(3, { leaseTtl: 300 });
    const [holder, ...waiters] = fleet;
    void holder!.send('getOrSet', { key: 'k', loaderMs: 10_000 }).catch(() => undefined);
    expect(await eventually(async () => (await loads(keyPrefix, 'k')) === 1)).toBe(true);
    const waiting = waiters.map((w) => w.send<Batch>('getOrSet', { key: 'k', n: 20, loaderMs: 50 }));
    await sleep(50);
    await holder!.kill('SIGKILL');
    const batches = await Promise.all(waiting);
    const results = batches.flatMap((b) => b.results);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(results.map((r) => JSON.stringify(r.value))).size).toBe(1);
    expect(await loads(keyPrefix, 'k')).toBe(2);
  });

  it('a loader longer than leaseTtl keeps its lease by extending it: nobody else loads', async () => {
    // A loader three times the lease, renewed every leaseTtl / 3: a late timer on a loaded machine
    // still renews well before the lease lapses.
    const keyPrefix = await startFleet(2, { leaseTtl: 600 });
    const [a, b] = fleet;
    const first = a!.send<Batch>('getOrSet', { key: 'slow', loaderMs: 1_800 });
    expect(await eventually(async () => (await loads(keyPrefix, 'slow')) === 1)).toBe(true);
    const second = await b!.send<Batch>('getOrSet', { key: 'slow', n: 5 });
    await first;
    expect(second.results.every((r) => r.ok)).toBe(true);
    expect(await loads(keyPrefix, 'slow')).toBe(1);
  });

  it.each([
    ['bus on: the eviction message supersedes the load', {}],
    ['bus off: the write script sees the lease is gone', { bus: false }],
  ])('an eviction during an in-flight load leaves the pre-eviction result in no tier on any instance (%s)', async (_name, options) => {
    const keyPrefix = await startFleet(2, options);
    const [a, b] = fleet;
    const load = a!.send<Batch>('getOrSet', { key: 'row', loaderMs: 300, value: 'before-update' });
    expect(await eventually(async () => (await loads(keyPrefix, 'row')) === 1)).toBe(true);
    await b!.send('del', { key: 'row' });
    const done = await load;
    expect(done.results[0]!.value).toBe('before-update'); // its caller still gets the value
    expect(await eventually(async () => (await a!.send('stats')).stats.loads.calls === 1)).toBe(true);
    await sleep(50);
    expect(await raw.exists(`${keyPrefix}{row}`)).toBe(0);
    expect((await a!.send('get', { key: 'row' })).value).toBeNull();
    expect((await b!.send('get', { key: 'row' })).value).toBeNull();
    if ('bus' in options) expect((await a!.send('stats')).stats.lease.lost).toBe(1);
  });

  it('a throwing loader caches nothing, frees its lease at once, and a waiter on another instance retries once', async () => {
    const keyPrefix = await startFleet(2, { leaseTtl: 10_000 });
    const [a, b] = fleet;
    const failing = a!.send<Batch>('getOrSet', { key: 'bad', loaderMs: 200, fail: true, n: 5 });
    expect(await eventually(async () => (await loads(keyPrefix, 'bad')) === 1)).toBe(true);
    const waiter = b!.send<Batch>('getOrSet', { key: 'bad', loaderMs: 10, n: 5, value: 'from-b' });
    const failed = await failing;
    expect(failed.results.every((r) => !r.ok && /loader failed/.test(r.error!))).toBe(true);
    // The lease is released with the failure, not left to expire (leaseTtl is 10 s here).
    const retried = await waiter;
    expect(retried.results.every((r) => r.ok && r.value === 'from-b')).toBe(true);
    expect(await loads(keyPrefix, 'bad')).toBe(2);
    // B did not sit out A's 10 s lease: A freed it the moment its loader failed.
    expect(retried.ms).toBeLessThan(10_000);
    expect(await eventually(async () => (await raw.exists(`${keyPrefix}{bad}:lease`)) === 0)).toBe(true);
  });

  it('waits at most lockWaitTimeout, then runs the loader itself (default) or fails with LockTimeoutError', async () => {
    const keyPrefix = await startFleet(3, { lockWaitTimeout: 200 });
    const [holder, loadsAnyway] = fleet;
    void holder!.send('getOrSet', { key: 'wait', loaderMs: 2_000 }).catch(() => undefined);
    expect(await eventually(async () => (await loads(keyPrefix, 'wait')) === 1)).toBe(true);
    const own = await loadsAnyway!.send<Batch>('getOrSet', { key: 'wait', loaderMs: 10, value: 'own' });
    expect(own.results[0]).toMatchObject({ ok: true, value: 'own' });
    expect(own.stats.lease.timeouts).toBe(1);
    const strict = await FleetInstance.start(
      await cacheUserUrl(raw, redis.port, keyPrefix),
      keyPrefix,
      { lockWaitTimeout: 200, onLockTimeout: 'error' },
      redis.url,
    );
    fleet.push(strict);
    await raw.del(`${keyPrefix}{wait}`);
    await raw.set(`${keyPrefix}{wait}:lease`, 'someone-else', 'PX', 5_000);
    const failed = await strict.send<Batch>('getOrSet', { key: 'wait', loaderMs: 10 });
    expect(failed.results[0]!.error).toMatch(/LockTimeoutError: .*waited 200 ms/);
  });

  it('lock: false skips the lease: each instance loads once on its own', async () => {
    const keyPrefix = await startFleet(3);
    await Promise.all(
      // Loads long enough that the three instances' reads overlap them, however slow the machine.
      fleet.map((f) => f.send<Batch>('getOrSet', { key: 'cheap', n: 50, loaderMs: 1_500, options: { lock: false } })),
    );
    expect(await loads(keyPrefix, 'cheap')).toBe(3);
    expect(await raw.exists(`${keyPrefix}{cheap}:lease`)).toBe(0);
  });
});
