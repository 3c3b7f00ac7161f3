import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TieredCacheModule, TieredCacheService } from 'nestjs-tiered-cache';
import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
import { Registry, type OpenMetricsContentType } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

describe('registerTieredCacheMetrics', () => {
  let app: INestApplicationContext | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function l1OnlyCache(): Promise<TieredCacheService> {
    const moduleRef = await Test.createTestingModule({
      imports: [TieredCacheModule.forRoot({ redis: false })],
    }).compile();
    app = await moduleRef.init();
    return app.get(TieredCacheService);
  }

  it('reads the counters at scrape time', async () => {
    const cache = await l1OnlyCache();
    const registry = new Registry();
    registerTieredCacheMetrics(cache, { registry });

    await cache.getOrSet('a', async () => 1);
    await cache.getOrSet('a', async () => 1);

    const text = await registry.metrics();
    expect(text).toContain('tiered_cache_hits_total{tier="l1"} 1\n');
    expect(text).toContain('tiered_cache_misses_total{tier="l1"} 1\n');
    expect(text).toContain('tiered_cache_loader_calls_total 1\n');
    expect(text).toContain('tiered_cache_loader_duration_seconds_count 1\n');
    expect(text).toContain('tiered_cache_entries{tier="l1"} 1\n');
  });

  it('exports no Redis series for a cache without Redis', async () => {
    const registry = new Registry();
    registerTieredCacheMetrics(await l1OnlyCache(), { registry });

    const text = await registry.metrics();

    expect(text).not.toContain('tier="l2"');
    expect(text).not.toContain('tiered_cache_l2_');
  });

  it('refuses a second registration into one registry, registering nothing, unless the prefix differs', async () => {
    const cache = await l1OnlyCache();
    const registry = new Registry();
    registerTieredCacheMetrics(cache, { registry });
    const count = registry.getMetricsAsArray().length;

    expect(() => registerTieredCacheMetrics(cache, { registry })).toThrow(/already has tiered_cache_hits_total/);
    expect(registry.getMetricsAsArray()).toHaveLength(count);

    registerTieredCacheMetrics(cache, { registry, prefix: 'other_cache_' });
    expect(await registry.metrics()).toContain('other_cache_hits_total{tier="l1"} 0\n');
  });

  it('removes its metrics with the function it returns', async () => {
    const registry = new Registry();
    const unregister = registerTieredCacheMetrics(await l1OnlyCache(), { registry });

    unregister();

    expect(registry.getMetricsAsArray()).toHaveLength(0);
  });

  it('exposes the OpenMetrics format too', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    registerTieredCacheMetrics(await l1OnlyCache(), { registry });

    const text = await registry.metrics();

    expect(text).toContain('# TYPE tiered_cache_hits counter\ntiered_cache_hits_total{tier="l1"} 0\n');
    expect(text).toContain('tiered_cache_loader_duration_seconds_bucket{le="+Inf"} 0\n');
    expect(text.endsWith('# EOF\n')).toBe(true);
  });
});
