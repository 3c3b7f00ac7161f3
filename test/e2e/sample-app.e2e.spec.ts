import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { describe, expect, it, vi } from 'vitest';
import { createSampleApp } from '../../sample-app/src/create-sample-app.js';
import { listen } from '../../sample-app/src/listen.js';
import type { Product } from '../../sample-app/src/products/product.js';
import { ProductsRepository } from '../../sample-app/src/products/products.repository.js';
import type { HttpAdapterName } from '../../sample-app/src/sample-app.config.js';
import { rawClient } from '../support/redis-server.js';
import { redisSuite } from '../support/redis-suite.js';

interface Running {
  app: INestApplication;
  url: string;
  repository: ProductsRepository;
}

describe.each<HttpAdapterName>(['fastify', 'express'])('sample app on %s', (adapter) => {
  const suite = redisSuite();

  /**
   * Starts the sample on an ephemeral port. Instances that share data share a key prefix (and a
   * database file); by default each gets its own prefix and an in-memory database.
   */
  async function start({
    keyPrefix = `e2e-${adapter}-${randomUUID()}:`,
    dbFile,
  }: {
    keyPrefix?: string;
    dbFile?: string;
  } = {}): Promise<Running & { keyPrefix: string }> {
    const app = await createSampleApp({
      adapter,
      port: 0,
      host: '127.0.0.1',
      redisUrl: suite.redis.url,
      keyPrefix,
      dbLatencyMs: 5,
      dbFile,
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    const r = { app, url: await app.getUrl(), repository: app.get(ProductsRepository) };
    suite.closeAfter(r.app);
    return { ...r, keyPrefix };
  }

  it('says which port is in use and how to pick another, instead of a raw EADDRINUSE', async () => {
    const first = await start();
    const { port } = new URL(first.url);
    const second = await createSampleApp({
      adapter,
      port: 0,
      host: '127.0.0.1',
      redisUrl: suite.redis.url,
      keyPrefix: `e2e-${randomUUID()}:`,
      dbLatencyMs: 5,
      dbFile: undefined,
      logger: false,
    });
    suite.closeAfter(second);

    await expect(listen(second, { port: Number(port), host: '127.0.0.1' })).rejects.toThrow(
      `Port ${port} on 127.0.0.1 is in use (another instance of the sample?): stop it, or start this one with PORT=<another port>`,
    );
  });

  it('queries the database once for a product read twice', async () => {
    const { url, repository } = await start();

    const first = await getJson<Product>(`${url}/products/3`);
    const second = await getJson<Product>(`${url}/products/3`);

    expect(second).toEqual(first);
    expect(first).toMatchObject({ id: 3, name: 'Burr grinder' });
    expect(repository.queries.findById).toBe(1);
  });

  it('serves the product list from the cache (getOrSet)', async () => {
    const { url, repository } = await start();

    await getJson(`${url}/products`);
    const list = await getJson<Product[]>(`${url}/products`);

    expect(list).toHaveLength(20);
    expect(repository.queries.findAll).toBe(1);
  });

  it('answers a freshly started instance from Redis, without querying its database', async () => {
    const a = await start();
    await getJson(`${a.url}/products/7`);
    // The load's Redis write does not delay the response: wait until Redis has it.
    const client = rawClient(suite.redis);
    try {
      await vi.waitFor(async () => expect((await client.keys(`${a.keyPrefix}*`)).join()).toContain('product:7'));
    } finally {
      client.disconnect();
    }

    const b = await start({ keyPrefix: a.keyPrefix });
    const product = await getJson<Product>(`${b.url}/products/7`);

    expect(product).toMatchObject({ id: 7, name: 'Gooseneck kettle' });
    expect(b.repository.queries.findById).toBe(0);
  });

  it('shows an update made on one instance on the other (shared Redis and database)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sample-db-'));
    try {
      const dbFile = join(dir, 'products.json');
      const a = await start({ dbFile });
      const b = await start({ keyPrefix: a.keyPrefix, dbFile });
      await getJson(`${a.url}/products/2`);
      expect(await getJson<Product>(`${b.url}/products/2`)).toMatchObject({ stock: 11 });

      await send('PATCH', `${a.url}/products/2`, { stock: 0 });

      // Through the invalidation bus, and at the latest once b's L1 entry expires (5 s).
      await vi.waitFor(async () => expect(await getJson<Product>(`${b.url}/products/2`)).toMatchObject({ stock: 0 }), { timeout: 10_000, interval: 50 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serves the new value after an update (@CacheEvict), for the product and the list', async () => {
    const { url, repository } = await start();
    await getJson(`${url}/products/2`);
    await getJson(`${url}/products`);

    const updated = await send<Product>('PATCH', `${url}/products/2`, { price: 999 });

    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: 2, price: 999 });
    expect(await getJson<Product>(`${url}/products/2`)).toMatchObject({ id: 2, price: 999 });
    expect((await getJson<Product[]>(`${url}/products`)).find((p) => p.id === 2)).toMatchObject({ price: 999 });
    expect(repository.queries.findById).toBe(2);
    expect(repository.queries.findAll).toBe(2);
  });

  it('answers 404 for a product once it is deleted', async () => {
    const { url } = await start();
    await getJson(`${url}/products/4`);

    expect((await send('DELETE', `${url}/products/4`)).status).toBe(204);

    expect((await fetch(`${url}/products/4`)).status).toBe(404);
  });

  it('overwrites the cached copy on refresh (@CachePut)', async () => {
    const { url, repository } = await start();
    await getJson(`${url}/products/5`);
    // A change made behind the cache's back: the cache still serves the old row...
    await repository.update(5, { stock: 0 });
    expect(await getJson<Product>(`${url}/products/5`)).toMatchObject({ stock: 14 });

    // ...until the app refreshes it.
    expect((await send<Product>('POST', `${url}/products/5/refresh`)).body).toMatchObject({ stock: 0 });

    const reads = repository.queries.findById;
    expect(await getJson<Product>(`${url}/products/5`)).toMatchObject({ stock: 0 });
    expect(repository.queries.findById).toBe(reads);
  });

  it('rejects an invalid update with 400 and keeps the cached product', async () => {
    const { url, repository } = await start();
    await getJson(`${url}/products/1`);

    const res = await send<{ message: string }>('PATCH', `${url}/products/1`, { price: -5 });

    expect(res.status).toBe(400);
    expect(res.body.message).toBe('price must be a non-negative integer');
    expect(await getJson<Product>(`${url}/products/1`)).toMatchObject({ price: 490 });
    expect(repository.queries).toMatchObject({ findById: 1, update: 0 });
  });

  it('reports Redis up with its latency on /health', async () => {
    const { url } = await start();

    const res = await send<HealthBody>('GET', `${url}/health`);

    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.details.cache).toEqual({
      status: 'up',
      degraded: false,
      redis: { status: 'up', latencyMs: expect.any(Number) },
      bus: { status: 'up' },
      tracking: { status: 'up' },
    });
  });

  it('keeps answering with Redis SIGKILLed, reports degraded, and recovers when Redis is back', async () => {
    const { url, repository } = await start();
    await getJson(`${url}/products/1`);

    await suite.redis.kill();
    try {
      // Cached in L1, and never cached (from the database): both still answered.
      expect(await getJson<Product>(`${url}/products/1`)).toMatchObject({ id: 1 });
      expect(await getJson<Product>(`${url}/products/6`)).toMatchObject({ id: 6 });
      expect(repository.queries.findById).toBe(2);

      const health = await send<HealthBody>('GET', `${url}/health`);
      expect(health.status).toBe(200);
      expect(health.body.status).toBe('degraded');
      expect(health.body.details.cache).toMatchObject({
        status: 'degraded',
        degraded: true,
        redis: { status: 'down', message: expect.any(String) },
        bus: { status: 'down' },
        tracking: { status: 'down' },
      });

      const strict = await send<HealthBody>('GET', `${url}/health/strict`);
      expect(strict.status).toBe(503);
      expect(strict.body.details.cache).toMatchObject({ status: 'down', degraded: true });

      const metrics = await scrape(url);
      expect(metrics.get('tiered_cache_degraded')).toBe(1);
      expect(metrics.get('tiered_cache_l2_connected')).toBe(0);
    } finally {
      await suite.redis.start();
    }

    await vi.waitFor(async () => expect((await send<HealthBody>('GET', `${url}/health`)).body.status).toBe('ok'), { timeout: 15_000, interval: 100 });
    expect((await scrape(url)).get('tiered_cache_degraded')).toBe(0);
  });

  it('exports counters on /metrics that move with the traffic', async () => {
    const { url } = await start();
    const before = await scrape(url);
    expect(before.get('tiered_cache_loader_calls_total')).toBe(0);
    expect(before.get('tiered_cache_hits_total{tier="l1"}')).toBe(0);
    expect(before.get('tiered_cache_bus_messages_total{direction="published"}')).toBe(0);

    await getJson(`${url}/products/8`); // L1 miss, L2 miss, load
    await getJson(`${url}/products/8`); // L1 hit
    expect((await scrape(url)).get('tiered_cache_entries{tier="l1"}')).toBe(1);
    await send('PATCH', `${url}/products/8`, { stock: 3 }); // evicts product:8 and products:all

    const after = await scrape(url);
    expect(after.get('tiered_cache_misses_total{tier="l1"}')).toBe(1);
    expect(after.get('tiered_cache_misses_total{tier="l2"}')).toBe(1);
    expect(after.get('tiered_cache_hits_total{tier="l1"}')).toBe(1);
    expect(after.get('tiered_cache_hits_total{tier="l2"}')).toBe(0);
    expect(after.get('tiered_cache_loader_calls_total')).toBe(1);
    expect(after.get('tiered_cache_loader_duration_seconds_count')).toBe(1);
    expect(after.get('tiered_cache_loader_duration_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(after.get('tiered_cache_operations_total{operation="delete"}')).toBe(2);
    expect(after.get('tiered_cache_entries{tier="l1"}')).toBe(0);
    expect(after.get('tiered_cache_l2_connected')).toBe(1);
    expect(after.get('tiered_cache_bus_connected')).toBe(1);
    expect(after.get('tiered_cache_bus_messages_total{direction="published"}')).toBeGreaterThan(0);
    expect(after.get('tiered_cache_degraded')).toBe(0);
    expect(after.get('sample_db_queries_total{query="findById"}')).toBe(1);
    expect(after.get('sample_db_queries_total{query="update"}')).toBe(1);
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const { url } = await start();

    const res = await fetch(`${url}/metrics`);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const types = (await res.text()).split('\n').filter((line) => line.startsWith('# TYPE tiered_cache_'));
    // Metric names are public API: dashboards and alerts depend on them.
    expect(types.sort()).toEqual([
      '# TYPE tiered_cache_bus_connected gauge',
      '# TYPE tiered_cache_bus_gaps_total counter',
      '# TYPE tiered_cache_bus_messages_total counter',
      '# TYPE tiered_cache_bus_publish_failures_total counter',
      '# TYPE tiered_cache_coalesced_waits_total counter',
      '# TYPE tiered_cache_degraded gauge',
      '# TYPE tiered_cache_early_refreshes_total counter',
      '# TYPE tiered_cache_entries gauge',
      '# TYPE tiered_cache_hits_total counter',
      '# TYPE tiered_cache_l2_breaker_open gauge',
      '# TYPE tiered_cache_l2_breaker_opens_total counter',
      '# TYPE tiered_cache_l2_connected gauge',
      '# TYPE tiered_cache_l2_corrupt_entries_total counter',
      '# TYPE tiered_cache_l2_errors_total counter',
      '# TYPE tiered_cache_l2_pending_writes gauge',
      '# TYPE tiered_cache_l2_skipped_total counter',
      '# TYPE tiered_cache_l2_timeouts_total counter',
      '# TYPE tiered_cache_lease_acquired_total counter',
      '# TYPE tiered_cache_lease_timeouts_total counter',
      '# TYPE tiered_cache_lease_waits_total counter',
      '# TYPE tiered_cache_loader_calls_total counter',
      '# TYPE tiered_cache_loader_duration_seconds histogram',
      '# TYPE tiered_cache_loader_errors_total counter',
      '# TYPE tiered_cache_loader_results_discarded_total counter',
      '# TYPE tiered_cache_loader_timeouts_total counter',
      '# TYPE tiered_cache_misses_total counter',
      '# TYPE tiered_cache_operations_total counter',
      '# TYPE tiered_cache_refreshes_total counter',
      '# TYPE tiered_cache_serialization_errors_total counter',
      '# TYPE tiered_cache_size_bytes gauge',
      '# TYPE tiered_cache_stale_served_total counter',
      '# TYPE tiered_cache_tag_invalidations_total counter',
      '# TYPE tiered_cache_tracking_active gauge',
      '# TYPE tiered_cache_tracking_gaps_total counter',
      '# TYPE tiered_cache_tracking_messages_total counter',
      '# TYPE tiered_cache_tracking_refused gauge',
    ]);
  });
});

interface HealthBody {
  status: string;
  details: Record<string, Record<string, unknown>>;
}

async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function send<T = unknown>(method: string, url: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** The samples of a Prometheus text exposition, keyed by `name{labels}` as printed. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}
