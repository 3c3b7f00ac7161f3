import { strict as assert } from 'node:assert';
import { NestFactory } from '@nestjs/core';
import { trace, type Tracer } from '@opentelemetry/api';
import { TieredCacheService } from 'nestjs-tiered-cache';
import { instrumentTieredCache } from 'nestjs-tiered-cache/opentelemetry';
import { createHttpApp } from './adapter.js';
import { CompatModule, CompatUser } from './compat.module.js';
import { E2eModule, ItemsService } from './e2e.module.js';

/** Records the names of the spans the cache starts. */
function recordingTracer(names: string[]): Tracer {
  const noop = trace.getTracer('consumer-e2e');
  return {
    startSpan: (name, options, ctx) => {
      names.push(name);
      return noop.startSpan(name, options, ctx);
    },
    startActiveSpan: noop.startActiveSpan.bind(noop) as Tracer['startActiveSpan'],
  };
}

async function http(base: string, method: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(base + path, { method });
  return { status: res.status, body: await res.text() };
}

async function main(): Promise<void> {
  const steps: string[] = [];
  const app = await createHttpApp(E2eModule);
  const spans: string[] = [];
  const uninstrument = instrumentTieredCache(app.get(TieredCacheService), { tracer: recordingTracer(spans), metrics: false });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const items = app.get(ItemsService);
  try {
    const first = await http(base, 'GET', '/items/1');
    const second = await http(base, 'GET', '/items/1');
    assert.equal(first.status, 200);
    assert.deepEqual(JSON.parse(second.body), { id: 1, version: 1 });
    assert.equal(items.loads, 1, 'the second read must be served from the cache');
    steps.push('cached read');

    assert.equal((await http(base, 'PATCH', '/items/1')).status, 200);
    assert.deepEqual(JSON.parse((await http(base, 'GET', '/items/1')).body), { id: 1, version: 2 });
    assert.equal(items.loads, 2, 'the read after @CacheEvict must load again');
    steps.push('eviction');

    const health = await http(base, 'GET', '/health');
    assert.equal(health.status, 200, health.body);
    assert.equal(JSON.parse(health.body).details.cache.redis.status, 'up', health.body);
    steps.push('terminus');

    const metrics = await http(base, 'GET', '/metrics');
    assert.match(metrics.body, /^tiered_cache_loader_calls_total 2$/m);
    assert.match(metrics.body, /^tiered_cache_hits_total\{tier="l1"\} 1$/m);
    steps.push('prometheus');

    assert.ok(spans.includes('cache.read') && spans.includes('cache.load'), `spans: ${spans.join(', ')}`);
    steps.push('opentelemetry');
  } finally {
    uninstrument();
    await app.close();
  }

  const compat = await NestFactory.createApplicationContext(CompatModule, { logger: false });
  try {
    const { cache } = compat.get(CompatUser);
    let runs = 0;
    const load = async () => ++runs;
    assert.equal(await cache.wrap('answer', load), 1);
    assert.equal(await cache.wrap('answer', load), 1);
    assert.equal(await cache.get('answer'), 1);
    await cache.del('answer');
    assert.equal(await cache.get('answer'), undefined);
    assert.equal(runs, 1);
    steps.push('compat');
  } finally {
    await compat.close();
  }
  console.log(`e2e ok: ${steps.join(', ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
