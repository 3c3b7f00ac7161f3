import { describe, expect, it } from 'vitest';
import type { TieredCacheService } from 'nestjs-tiered-cache';
import { createApp, uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 3: writes made while the circuit breaker is open reach Redis once it recovers', () => {
  const suite = redisSuite();
  // One timeout opens the writer's breaker; it lets a probe through 300 ms later.
  const writerOptions = { l2Timeout: 100, breaker: { threshold: 1, openFor: 300 }, l1: { ttl: 60_000 } };

  /** Hangs Redis (SIGSTOP) for one read of `cache`, which times out and opens its breaker. */
  async function openBreaker(cache: TieredCacheService): Promise<void> {
    suite.redis.signal('SIGSTOP');
    try {
      await cache.get('breaker-probe');
    } finally {
      suite.redis.signal('SIGCONT');
    }
    expect(cache.stats().l2.breaker).toBe('open');
  }

  /** What a freshly booted instance (no L1, nothing learned yet) reads for `key`. */
  async function freshInstanceReads(keyPrefix: string, key: string): Promise<unknown> {
    const { app, cache } = await createApp({ redis: suite.redis.url, keyPrefix, l1: false, l2Timeout: 2_000 });
    try {
      return await cache.get(key);
    } finally {
      await app.close();
    }
  }

  it('a set() made while the breaker is open is written to Redis once it recovers, so other instances read it', async () => {
    const keyPrefix = uniquePrefix('breaker-set');
    const { cache: writer } = await suite.app({ ...writerOptions, keyPrefix });
    const { cache: reader } = await suite.app({ keyPrefix, l1: false, l2Timeout: 2_000 });
    await writer.set('price', 'old');
    expect(await reader.get('price')).toBe('old');
    await openBreaker(writer);
    await writer.set('price', 'new');
    expect(await writer.get('price')).toBe('new');
    // The writer keeps serving traffic, which lets its breaker probe Redis and close.
    await expect
      .poll(
        async () => {
          await writer.get('other');
          return reader.get('price');
        },
        { timeout: 3_000, interval: 50 },
      )
      .toBe('new');
  });

  it('an invalidateTags() made while the breaker is open reaches Redis once it recovers, so a fresh instance does not serve the tagged entry', async () => {
    const keyPrefix = uniquePrefix('breaker-tags');
    const { cache: writer } = await suite.app({ ...writerOptions, keyPrefix });
    await writer.set('catalog', 'before the price change', { tags: ['prices'] });
    expect(await freshInstanceReads(keyPrefix, 'catalog')).toBe('before the price change');
    await openBreaker(writer);
    await writer.invalidateTags('prices');
    expect(await writer.get('catalog')).toBeUndefined();
    await expect
      .poll(
        async () => {
          await writer.get('other');
          return freshInstanceReads(keyPrefix, 'catalog');
        },
        { timeout: 3_000, interval: 50 },
      )
      .toBeUndefined();
  });
});
