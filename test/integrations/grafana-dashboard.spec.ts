import { readFileSync } from 'node:fs';
import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../support/app.js';
import { RedisServer } from '../support/redis-server.js';

describe('dashboards/grafana.json', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => redis.stop());

  it('queries only metrics the exporter publishes (for a cache with L1, Redis and the bus)', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../dashboards/grafana.json', import.meta.url), 'utf8'));
    const queries: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    const referenced = new Set(queries.flatMap((q) => q.match(/tiered_cache_[a-z0-9_]+/g) ?? []).map((n) => n.replace(/_bucket$/, '')));
    const { app, cache } = await createApp({ redis: redis.url });
    try {
      const registry = new Registry();
      registerTieredCacheMetrics(cache, { registry });
      const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
      expect([...referenced].filter((n) => !exported.has(n))).toEqual([]);
      expect(referenced.size).toBeGreaterThan(15);
    } finally {
      await app.close();
    }
  });
});
