import { describe, expect, it } from 'vitest';
import type { TieredCacheModuleOptions, TieredCacheService } from 'nestjs-tiered-cache';
import { createApp, eventually, sleep } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

/** A loader whose runs are counted and whose next outcome the test sets. */
class Source {
  runs = 0;
  version = 1;
  fail = false;
  delayMs = 0;
  load = async () => {
    this.runs++;
    const v = this.version;
    if (this.delayMs) await sleep(this.delayMs);
    if (this.fail) throw new Error(`source down (run ${this.runs})`);
    return `v${v}`;
  };
}

describe('grace, fail-safe and loader timeouts', () => {
  const suite = redisSuite();
  // A generous l2Timeout: these specs are about loaders, not about a slow Redis on a busy machine.
  const cacheWith = (options: TieredCacheModuleOptions): Promise<TieredCacheService> => suite.cacheWith({ l2Timeout: 2_000, ...options });

  it.each([
    ['from L1', { l1: { ttl: 60_000 } }],
    ['from Redis', { l1: false as const }],
  ])('after the TTL, within grace, callers get the stale value at once while exactly one refresh runs (%s)', async (_n, tier) => {
    const cache = await cacheWith({ grace: 10_000, ...tier });
    const src = new Source();
    expect(await cache.getOrSet('k', src.load, { ttl: 100 })).toBe('v1');
    await sleep(150);
    src.version = 2;
    src.delayMs = 100;
    // The refresh stores with the TTL of the call that started it: 60 s, so v2 stays fresh.
    const read = () => cache.getOrSet('k', src.load, { ttl: 60_000 });
    const during = await Promise.all(Array.from({ length: 20 }, read));
    expect(during).toEqual(Array(20).fill('v1')); // nobody waited for the 100 ms refresh
    expect(await eventually(async () => (await read()) === 'v2')).toBe(true);
    expect(src.runs).toBe(2);
    expect(cache.stats().loads).toMatchObject({ calls: 2 });
  });

  it('fail-safe: a failing loader keeps the stale value served within grace; after grace the error reaches the caller', async () => {
    const cache = await cacheWith({ ttl: 100, grace: 400, graceBackoff: 10_000, l1: { ttl: 60_000 } });
    const src = new Source();
    await cache.getOrSet('k', src.load);
    await sleep(150);
    src.fail = true;
    for (let i = 0; i < 5; i++) expect(await cache.getOrSet('k', src.load)).toBe('v1');
    expect(await eventually(() => cache.stats().grace.refreshErrors === 1)).toBe(true);
    for (let i = 0; i < 5; i++) expect(await cache.getOrSet('k', src.load)).toBe('v1');
    // One refresh was tried; graceBackoff (10 s) keeps the others from hammering the source.
    expect(src.runs).toBe(2);
    expect(cache.stats().grace.staleServed).toBeGreaterThanOrEqual(10);
    await sleep(450);
    await expect(cache.getOrSet('k', src.load)).rejects.toThrow(/source down/);
  });

  it('graceBackoff: after a failed refresh the loader is retried no more often than the backoff', async () => {
    const cache = await cacheWith({ ttl: 50, grace: 60_000, graceBackoff: 200, l1: false });
    const src = new Source();
    await cache.getOrSet('k', src.load);
    await sleep(80);
    src.fail = true;
    const until = Date.now() + 500;
    while (Date.now() < until) {
      expect(await cache.getOrSet('k', src.load)).toBe('v1');
      await sleep(5);
    }
    // ~500 ms of reads with a 200 ms backoff: at most 3 refresh attempts, plus the first load.
    expect(src.runs).toBeGreaterThanOrEqual(2);
    expect(src.runs).toBeLessThanOrEqual(4);
    src.fail = false;
    src.version = 9;
    await sleep(220);
    expect(await eventually(async () => (await cache.getOrSet('k', src.load)) === 'v9')).toBe(true);
  });

  it('soft timeout: with a stale value, a slow refresh yields the stale value; the refresh still updates the cache', async () => {
    const cache = await cacheWith({ grace: 60_000, softTimeout: 50, l1: false });
    const src = new Source();
    await cache.getOrSet('k', src.load, { ttl: 100 });
    await sleep(150);
    src.version = 2;
    src.delayMs = 300;
    const read = () => cache.getOrSet('k', src.load, { ttl: 60_000 });
    expect(await read()).toBe('v1');
    expect(cache.stats().grace.softTimeouts).toBe(1);
    expect(await eventually(async () => (await read()) === 'v2', 2_000)).toBe(true);
    expect(src.runs).toBe(2);
  });

  it('soft timeout: a refresh that beats it returns the fresh value', async () => {
    const cache = await cacheWith({ ttl: 100, grace: 60_000, softTimeout: 1_000, l1: false });
    const src = new Source();
    await cache.getOrSet('k', src.load);
    await sleep(150);
    src.version = 2;
    src.delayMs = 20;
    expect(await cache.getOrSet('k', src.load)).toBe('v2');
  });

  it('no soft timeout without a stale value: the caller waits for the loader', async () => {
    const cache = await cacheWith({ softTimeout: 10 });
    const src = new Source();
    src.delayMs = 100;
    expect(await cache.getOrSet('cold', src.load)).toBe('v1');
    expect(cache.stats().grace.softTimeouts).toBe(0);
  });

  it('hard timeout without a stale value rejects with LoaderTimeoutError; the load goes on and is cached when it succeeds', async () => {
    const cache = await cacheWith({ hardTimeout: 50 });
    const src = new Source();
    src.delayMs = 200;
    const callers = await Promise.allSettled(Array.from({ length: 5 }, () => cache.getOrSet('slow', src.load)));
    for (const c of callers) {
      expect(c.status).toBe('rejected');
      expect((c as PromiseRejectedResult).reason).toMatchObject({ name: 'LoaderTimeoutError', key: 'slow', timeoutMs: 50 });
    }
    expect(src.runs).toBe(1);
    expect(await eventually(async () => (await cache.get('slow')) === 'v1', 2_000)).toBe(true);
    expect(await cache.getOrSet('slow', src.load)).toBe('v1');
    expect(src.runs).toBe(1);
  });

  it('soft timeouts do not break single flight: concurrent stale readers share one refresh', async () => {
    const cache = await cacheWith({ ttl: 50, grace: 60_000, softTimeout: 20, l1: false });
    const src = new Source();
    await cache.getOrSet('k', src.load);
    await sleep(80);
    src.delayMs = 150;
    src.version = 2;
    const values = await Promise.all(Array.from({ length: 50 }, () => cache.getOrSet('k', src.load)));
    expect(new Set(values)).toEqual(new Set(['v1']));
    await sleep(200);
    expect(src.runs).toBe(2);
  });

  it('soft timeouts and refreshes keep the fleet lease: two instances refresh a stale key once', async () => {
    const keyPrefix = `fleet-soft-${process.pid}:`;
    const a = await cacheWith({ keyPrefix, ttl: 50, grace: 60_000, softTimeout: 20, l1: false });
    const b = await cacheWith({ keyPrefix, ttl: 50, grace: 60_000, softTimeout: 20, l1: false });
    const src = new Source();
    await a.getOrSet('k', src.load);
    await sleep(80);
    src.delayMs = 150;
    src.version = 2;
    await Promise.all([a.getOrSet('k', src.load), b.getOrSet('k', src.load)]);
    await sleep(250);
    expect(src.runs).toBe(2);
    expect(await b.getOrSet('k', src.load)).toBe('v2');
  });

  it('entries live in Redis for ttl + grace, and a plain get() does not return a stale value', async () => {
    const cache = await cacheWith({ keyPrefix: 'grace-ttl:', ttl: 1_000, grace: 5_000, l1: false });
    await cache.set('k', 'v');
    const pttl = await suite.raw.pttl('grace-ttl:{k}');
    expect(pttl).toBeGreaterThan(5_000);
    expect(pttl).toBeLessThanOrEqual(6_000);
    const short = await cacheWith({ keyPrefix: 'grace-get:', ttl: 50, grace: 5_000, l1: false });
    await short.set('k', 'v');
    await sleep(80);
    expect(await short.get('k')).toBeUndefined();
  });

  it('jitter spreads the expiry of entries written together within the bound', async () => {
    const cache = await cacheWith({ keyPrefix: 'jitter:', ttl: 100_000, jitter: 0.2, l1: false });
    await Promise.all(Array.from({ length: 50 }, (_, i) => cache.set(`k${i}`, i)));
    const pttls = await Promise.all(Array.from({ length: 50 }, (_, i) => suite.raw.pttl(`jitter:{k${i}}`)));
    expect(Math.min(...pttls)).toBeGreaterThanOrEqual(80_000 - 1_000);
    expect(Math.max(...pttls)).toBeLessThanOrEqual(100_000);
    expect(new Set(pttls.map((t) => Math.round(t / 1_000))).size).toBeGreaterThan(5);
  });
});

describe('error classes', () => {
  it("tell the cache's own errors from a loader's, which pass through untouched", async () => {
    const { TieredCacheError, LoaderTimeoutError, LockTimeoutError, TieredCacheConfigError } = await import('nestjs-tiered-cache');
    const { app, cache } = await createApp({ redis: false, hardTimeout: 20 });
    try {
      const mine = new RangeError('not found');
      const got = await cache.getOrSet('a', async () => Promise.reject(mine)).catch((e: unknown) => e);
      expect(got).toBe(mine);
      expect(got).not.toBeInstanceOf(TieredCacheError);
      const timeout = await cache.getOrSet('b', () => sleep(100)).catch((e: unknown) => e);
      expect(timeout).toBeInstanceOf(LoaderTimeoutError);
      expect(timeout).toBeInstanceOf(TieredCacheError);
      expect(new LockTimeoutError('k', 1)).toBeInstanceOf(TieredCacheError);
      await expect(createApp({ ttl: 0 })).rejects.toBeInstanceOf(TieredCacheConfigError);
    } finally {
      await app.close();
    }
  });
});
