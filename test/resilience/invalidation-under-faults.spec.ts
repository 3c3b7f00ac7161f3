import { describe, expect, it } from 'vitest';
import type { TieredCacheModuleOptions, TieredCacheService } from 'nestjs-tiered-cache';
import { eventually, sleep, uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('invalidations survive Redis faults (found by the chaos soak)', () => {
  const suite = redisSuite();
  const cacheWith = (options: TieredCacheModuleOptions): Promise<TieredCacheService> => suite.cacheWith(options);

  it('an eviction made while the writer’s circuit breaker is open still reaches Redis and the other instances', async () => {
    const keyPrefix = uniquePrefix('breaker-del');
    const writer = await cacheWith({ keyPrefix, l2Timeout: 50, breaker: { threshold: 2, openFor: 60_000 } });
    const reader = await cacheWith({ keyPrefix, l1: { ttl: 300 } });
    await writer.set('product:1', 'v1');
    expect(await reader.get('product:1')).toBe('v1');
    // Redis stops answering long enough for the writer's breaker to open (for a minute).
    await suite.raw.call('CLIENT', 'PAUSE', '300', 'ALL');
    for (let i = 0; i < 3; i++) await writer.get(`probe:${i}`);
    expect(writer.stats().l2.breaker).toBe('open');
    await sleep(350);
    // Redis answers again, but the writer's breaker stays open: the eviction must go out anyway.
    await writer.del('product:1');
    expect(await suite.raw.exists(`${keyPrefix}{product:1}`)).toBe(0);
    expect(await eventually(async () => (await reader.get('product:1')) === undefined, 2_000)).toBe(true);
  });

  it('an eviction Redis could not take is retried, and announced, once Redis answers again', async () => {
    const keyPrefix = uniquePrefix('retry-del');
    const writer = await cacheWith({ keyPrefix, l2Timeout: 50 });
    const reader = await cacheWith({ keyPrefix, l1: { ttl: 60_000 } });
    await writer.set('product:2', 'v1');
    expect(await reader.get('product:2')).toBe('v1'); // now in the reader's L1 for a minute
    suite.redis.signal('SIGSTOP');
    await writer.del('product:2'); // times out: neither the delete nor the message gets through now
    suite.redis.signal('SIGCONT');
    expect(await eventually(async () => (await suite.raw.exists(`${keyPrefix}{product:2}`)) === 0, 5_000)).toBe(true);
    expect(await eventually(async () => (await reader.get('product:2')) === undefined, 5_000)).toBe(true);
  });

  it('a lease taken by an ACQUIRE that timed out is released right behind it', async () => {
    const keyPrefix = uniquePrefix('orphan');
    const cache = await cacheWith({ keyPrefix, l2Timeout: 30, leaseTtl: 30_000, breaker: false });
    // Writes (and so scripts) pause, reads go on: the GET answers, the ACQUIRE script times out.
    await suite.raw.call('CLIENT', 'PAUSE', '200', 'WRITE');
    expect(await cache.getOrSet('k', async () => 'loaded')).toBe('loaded');
    expect(cache.stats().lease.acquired).toBe(0);
    await sleep(300);
    // The ACQUIRE still ran when Redis woke up, but the RELEASE behind it freed the lease: no other
    // instance has to sit out its 30 s.
    expect(await suite.raw.exists(`${keyPrefix}{k}:lease`)).toBe(0);
  });
});
