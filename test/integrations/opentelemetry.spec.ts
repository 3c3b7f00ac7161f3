import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_TRACE_CHANNELS, Cacheable, type CacheTraceMessage } from 'nestjs-tiered-cache';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { instrumentTieredCache } from 'nestjs-tiered-cache/opentelemetry';
import { createApp, sleep } from '../support/app.js';
import { RedisServer } from '../support/redis-server.js';

const exporter = new InMemorySpanExporter();
// The 2.x SDK (Node 20); 3.x needs Node 22.15.
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');

@Injectable()
class Products {
  @Cacheable({ key: (id: number) => `product:${id}` })
  async findOne(id: number) {
    // The app's own database span: it must nest under the cache's load span.
    return tracer.startActiveSpan('db.query', async (span) => {
      await sleep(20);
      span.end();
      return { id };
    });
  }
}

class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe('OpenTelemetry instrumentation', () => {
  let redis: RedisServer;
  const contextManager = new AsyncLocalStorageContextManager();
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    context.setGlobalContextManager(contextManager.enable());
  });
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
    exporter.reset();
  });
  afterAll(async () => {
    context.disable();
    await redis.stop();
  });

  const boot = async (keyPrefix: string) => {
    const { app, cache } = await createApp({ redis: redis.url, keyPrefix }, { providers: [Products] });
    closers.push(() => app.close());
    return { products: app.get(Products), cache };
  };

  it('traces a read and its loader; the database span nests under the load span', async () => {
    const { products, cache } = await boot('otel-1:');
    const uninstrument = instrumentTieredCache(cache, { tracer, metrics: false });
    await products.findOne(7);
    await products.findOne(7);
    uninstrument();
    await products.findOne(7); // not traced any more
    const spans = exporter.getFinishedSpans();
    const reads = spans.filter((s) => s.name === 'cache.read');
    expect(reads.map((s) => s.attributes['cache.outcome'])).toEqual(['load', 'l1']);
    expect(reads[0]!.attributes).toMatchObject({ 'cache.key_namespace': 'product', 'cache.hit': false });
    expect(reads[0]!.attributes['cache.key']).toBeUndefined();
    const load = spans.find((s) => s.name === 'cache.load')!;
    const db = spans.find((s) => s.name === 'db.query')!;
    expect(load.parentSpanContext?.spanId).toBe(reads[0]!.spanContext().spanId);
    expect(db.parentSpanContext?.spanId).toBe(load.spanContext().spanId);
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('tells Redis hits, coalesced callers and errors apart', async () => {
    const { products } = await boot('otel-2:');
    await products.findOne(1); // now in Redis
    const { cache: fresh } = await boot('otel-2:');
    instrumentTieredCache(fresh, { tracer, metrics: false, keys: 'full' });
    exporter.reset();
    await fresh.getOrSet('product:1', async () => ({ id: -1 }));
    await Promise.all([fresh.getOrSet('k:2', async () => 2), fresh.getOrSet('k:2', async () => 2)]);
    await expect(fresh.getOrSet('k:3', async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    const reads = exporter.getFinishedSpans().filter((s) => s.name === 'cache.read');
    expect(reads.map((s) => [s.attributes['cache.key'], s.attributes['cache.outcome']])).toEqual([
      ['product:1', 'l2'],
      ['k:2', 'load'],
      ['k:2', 'coalesced'],
      ['k:3', 'load'],
    ]);
    const failed = reads[3]!;
    expect(failed.status.code).toBe(2);
    expect(failed.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('mirrors the counters as OpenTelemetry instruments, read at collection time', async () => {
    const { products, cache } = await boot('otel-3:');
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    instrumentTieredCache(cache, { tracer, meter: meterProvider.getMeter('test') });
    await products.findOne(1);
    await products.findOne(1);
    const { resourceMetrics } = await reader.collect();
    const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const point = (name: string, attrs: Record<string, string> = {}) =>
      all.find((m) => m.descriptor.name === name)?.dataPoints.find((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))?.value;
    expect(point('tiered_cache.hits', { tier: 'l1' })).toBe(1);
    expect(point('tiered_cache.loader.calls')).toBe(1);
    expect(point('tiered_cache.l1.entries')).toBe(1);
    await meterProvider.shutdown();
  });

  it('publishes every read on node:diagnostics_channel for any subscriber, per cache, without OpenTelemetry', async () => {
    const { products, cache } = await boot('otel-dc:');
    const { cache: other } = await boot('otel-dc-other:');
    const seen: CacheTraceMessage[] = [];
    const listener = (m: unknown) => seen.push(m as CacheTraceMessage);
    subscribe(CACHE_TRACE_CHANNELS.readEnd, listener);
    try {
      await products.findOne(1);
      await products.findOne(1);
      await other.getOrSet('elsewhere', async () => 1);
      await expect(cache.getOrSet('boom', async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    } finally {
      unsubscribe(CACHE_TRACE_CHANNELS.readEnd, listener);
    }
    const mine = seen.filter((m) => m.cache === seen[0]!.cache);
    expect(mine.map((m) => [m.key, m.outcome])).toEqual([
      ['product:1', 'load'],
      ['product:1', 'l1'],
      ['boom', 'load'],
    ]);
    expect((mine[2]!.error as Error).message).toBe('db down');
    // The other app's read went out on the same channel under its own cache id.
    expect(seen.filter((m) => m.cache !== mine[0]!.cache).map((m) => m.key)).toEqual(['elsewhere']);
  });
});
