import { describe, expect, it } from 'vitest';
import type { TieredCacheModuleOptions, TieredCacheService } from 'nestjs-tiered-cache';
import { eventually, sleep } from '../support/app.js';
import { commandCalls } from '../support/redis-server.js';
import { redisSuite } from '../support/redis-suite.js';

describe('L2 circuit breaker and early refresh', () => {
  const suite = redisSuite();
  const cacheWith = (options: TieredCacheModuleOptions): Promise<TieredCacheService> => suite.cacheWith(options);

  it('opens after consecutive timeouts, sends Redis nothing while open, then closes after a successful probe', async () => {
    const cache = await cacheWith({ l1: false, l2Timeout: 50, breaker: { threshold: 3, openFor: 400 } });
    await cache.set('warm', 1);
    const getsBefore = await commandCalls(suite.raw, 'get');
    await suite.raw.call('CLIENT', 'PAUSE', '600', 'ALL'); // Redis stops answering everyone for 600 ms
    for (let i = 0; i < 20; i++) expect(await cache.getOrSet(`k${i}`, async () => i)).toBe(i);
    const { l2 } = cache.stats();
    expect(l2).toMatchObject({ breaker: 'open', breakerOpens: 1 });
    // The commands in flight when it opened timed out; every later one was never sent (a load
    // whose read was not answered keeps its result in L1 only: no write is even attempted).
    expect(l2.timeouts).toBeLessThan(10);
    expect(l2.skipped).toBeGreaterThanOrEqual(20 - l2.timeouts);
    await sleep(700);
    // 20 reads, but only the ones sent before it opened ever reached Redis.
    expect((await commandCalls(suite.raw, 'get')) - getsBefore).toBeLessThanOrEqual(3);
    expect(await eventually(async () => (await cache.get('warm')) === 1 && cache.stats().l2.breaker === 'closed', 3_000)).toBe(true);
  });

  it('an instance whose reads take the lease (most recent reads missed) also sends nothing while it is open', async () => {
    const cache = await cacheWith({ l1: false, l2Timeout: 50, breaker: { threshold: 3, openFor: 400 } });
    // Cold keys: the instance now reads and takes the lease in one script.
    for (let i = 0; i < 24; i++) await cache.getOrSet(`m${i}`, async () => i);
    await sleep(100);
    const scriptsBefore = await commandCalls(suite.raw, 'evalsha');
    await suite.raw.call('CLIENT', 'PAUSE', '600', 'ALL');
    for (let i = 0; i < 20; i++) expect(await cache.getOrSet(`k${i}`, async () => i)).toBe(i);
    expect(cache.stats().l2).toMatchObject({ breaker: 'open', breakerOpens: 1 });
    await sleep(700);
    // The reads sent before it opened, and the release behind each that was not answered (it may
    // have taken the lease late): nothing for the reads made while it was open.
    expect((await commandCalls(suite.raw, 'evalsha')) - scriptsBefore).toBeLessThanOrEqual(6);
  });

  it('a failed probe opens it again without a new warning storm', async () => {
    const cache = await cacheWith({ l1: false, l2Timeout: 30, breaker: { threshold: 2, openFor: 100 } });
    await suite.raw.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = performance.now();
    const calls = 40;
    for (let i = 0; i < calls; i++) {
      await cache.getOrSet(`p${i}`, async () => 'x');
      await sleep(15);
    }
    const elapsed = performance.now() - started;
    const { l2 } = cache.stats();
    // Opened once (one warning); then a probe per openFor timed out and re-opened it, quietly,
    // while every other command was never sent.
    expect(l2.breakerOpens).toBe(1);
    expect(l2.timeouts).toBeLessThan(calls / 2);
    expect(l2.skipped).toBeGreaterThanOrEqual(calls - l2.timeouts);
    await sleep(Math.max(0, 1_600 - elapsed));
  });

  it('early refresh: a hot key read across several TTLs never makes a caller wait, with about one load per TTL', async () => {
    const cache = await cacheWith({ ttl: 600, l1: { ttl: 60_000 }, l2Timeout: 2_000 });
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(40);
      return loads;
    };
    await cache.getOrSet('hot', loader);
    const until = Date.now() + 3_000; // five TTLs
    const seen = new Set<number>();
    while (Date.now() < until) {
      seen.add(await cache.getOrSet('hot', loader));
      await sleep(2);
    }
    const { loads: l, grace } = cache.stats();
    // Every load after the first ran in the background: no caller waited for one.
    expect(l.calls - grace.refreshes).toBe(1);
    expect(grace.earlyRefreshes).toBeGreaterThanOrEqual(3);
    expect(loads).toBeGreaterThanOrEqual(4);
    expect(loads).toBeLessThanOrEqual(9);
    expect(seen.size).toBe(loads - (seen.has(loads) ? 0 : 1));
  });

  it('earlyRefresh: false lets the entry expire: the reader after expiry waits for the load', async () => {
    const cache = await cacheWith({ ttl: 300, earlyRefresh: false, l2Timeout: 2_000 });
    let loads = 0;
    const loader = async () => {
      loads++;
      await sleep(20);
      return loads;
    };
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      await cache.getOrSet('hot', loader);
      await sleep(2);
    }
    const { loads: l, grace } = cache.stats();
    expect(grace.earlyRefreshes).toBe(0);
    expect(l.calls).toBeGreaterThanOrEqual(3);
    expect(l.calls - grace.refreshes).toBe(l.calls);
  });
});
