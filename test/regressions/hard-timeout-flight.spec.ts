import { describe, expect, it } from 'vitest';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { GatedLoader, nextTurn } from '../support/gated-loader.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 5: a load that outlives hardTimeout stays the key’s one flight until it settles', () => {
  const suite = redisSuite();
  const cases: [string, TieredCacheModuleOptions][] = [
    ['without Redis', { redis: false }],
    ['with Redis and lock: false', { lock: false }],
  ];

  it.each(cases)('a caller arriving after the hard timeout joins the load still running, so the loader runs once (%s)', async (_name, options) => {
    const cache = await suite.cacheWith({ ...options, hardTimeout: 50, l2Timeout: 2_000 });
    const loader = new GatedLoader('v1');
    await expect(cache.getOrSet('report', loader.load)).rejects.toMatchObject({ name: 'LoaderTimeoutError' });
    const second = cache.getOrSet('report', loader.load);
    loader.release();
    await Promise.allSettled([second]);
    await loader.finished;
    expect(loader.runs).toBe(1);
    await expect.poll(() => cache.get('report'), { timeout: 2_000, interval: 20 }).toBe('v1');
  });

  it.each(cases)('a del() during a load that outlived its hard timeout keeps that load from storing (%s)', async (_name, options) => {
    const cache = await suite.cacheWith({ ...options, hardTimeout: 50, l2Timeout: 2_000 });
    const loader = new GatedLoader('read before the update');
    await expect(cache.getOrSet('report', loader.load)).rejects.toMatchObject({ name: 'LoaderTimeoutError' });
    await cache.del('report');
    loader.release();
    await loader.finished;
    await nextTurn();
    expect(await cache.get('report')).toBeUndefined();
  });
});
