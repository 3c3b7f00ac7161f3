import { type Attributes, context, type Meter, metrics, type ObservableResult, type Span, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { CacheStatsSnapshot } from '../interfaces/cache-stats.interface.js';
import { ENGINE } from '../tiered-cache.constants.js';
import { CACHE_TRACE_CHANNELS, type CacheTraceMessage } from './trace-channels.js';
import type { TieredCacheService } from '../tiered-cache.service.js';

/** Options of `instrumentTieredCache()`. */
export interface TieredCacheInstrumentationOptions {
  /** @default trace.getTracer('nestjs-tiered-cache') */
  tracer?: Tracer;
  /** @default metrics.getMeter('nestjs-tiered-cache') */
  meter?: Meter;
  /**
   * What spans say about the key: `'namespace'` (the part before the first `:`, e.g. `product`
   * for `product:7`), `'full'` (the whole key: mind personal data in keys), or `'none'`.
   * @default 'namespace'
   */
  keys?: 'namespace' | 'full' | 'none';
  /** Export the cache's counters as OpenTelemetry instruments too. @default true */
  metrics?: boolean;
}

/**
 * Traces a cache with OpenTelemetry (`@opentelemetry/api`, an optional peer dependency): a span
 * `cache.read` per `getOrSet`/`@Cacheable` read that misses L1 too (attribute `cache.outcome`:
 * `l1`, `l2`, `stale`, `load`, `fleet` — another instance's load, waited for through the lease —
 * or `coalesced`), with a child span `cache.load` around the loader, under which your database
 * spans nest. L1 hits are counted by the `cache.read` span too. Also mirrors `stats()` as
 * observable instruments (`tiered_cache.*`), read at collection time. Returns a function that
 * removes the instrumentation.
 *
 * It subscribes to the cache's `node:diagnostics_channel` channels (`CACHE_TRACE_CHANNELS`):
 * without it nothing is published, and a read pays one `hasSubscribers` check.
 *
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * instrumentTieredCache(app.get(TieredCacheService));
 * ```
 * @publicApi
 */
export function instrumentTieredCache(cache: TieredCacheService, options: TieredCacheInstrumentationOptions = {}): () => void {
  const tracer = options.tracer ?? trace.getTracer('nestjs-tiered-cache');
  const keys = options.keys ?? 'namespace';
  const engine = cache[ENGINE];
  const keyAttributes = (key: string): Attributes => {
    if (keys === 'none') return {};
    if (keys === 'full') return { 'cache.key': key };
    const i = key.indexOf(':');
    return { 'cache.key_namespace': i < 0 ? key : key.slice(0, i) };
  };
  const spans = new WeakMap<CacheTraceMessage, Span>();
  const start = (name: string, attributes: Attributes) => (m: unknown) => {
    const message = m as CacheTraceMessage;
    if (message.cache !== engine.instanceId) return;
    const span = tracer.startSpan(name, { attributes: { ...attributes, ...keyAttributes(message.key) } });
    spans.set(message, span);
    const ctx = trace.setSpan(context.active(), span);
    message.run = (fn) => context.with(ctx, fn);
  };
  const end = (m: unknown) => {
    const message = m as CacheTraceMessage;
    const span = spans.get(message);
    if (span === undefined) return;
    spans.delete(message);
    if (message.outcome !== undefined) {
      span.setAttribute('cache.outcome', message.outcome);
      span.setAttribute('cache.hit', message.outcome !== 'load');
    }
    if (message.error !== undefined) {
      span.recordException(message.error instanceof Error ? message.error : String(message.error));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  const subscriptions: [string, (m: unknown) => void][] = [
    [CACHE_TRACE_CHANNELS.readStart, start('cache.read', { 'cache.system': 'nestjs-tiered-cache' })],
    [CACHE_TRACE_CHANNELS.readEnd, end],
    [CACHE_TRACE_CHANNELS.loadStart, start('cache.load', {})],
    [CACHE_TRACE_CHANNELS.loadEnd, end],
  ];
  for (const [name, fn] of subscriptions) subscribe(name, fn);
  const stopMetrics =
    options.metrics === false ? () => undefined : mirrorMetrics(options.meter ?? metrics.getMeter('nestjs-tiered-cache'), () => cache.stats());
  return () => {
    for (const [name, fn] of subscriptions) unsubscribe(name, fn);
    stopMetrics();
  };
}

/** Observable instruments over `stats()`, read once per collection. */
function mirrorMetrics(meter: Meter, read: () => CacheStatsSnapshot): () => void {
  const counter = (name: string, description: string, unit?: string) => meter.createObservableCounter(`tiered_cache.${name}`, { description, unit });
  const gauge = (name: string, description: string, unit?: string) => meter.createObservableGauge(`tiered_cache.${name}`, { description, unit });
  const hits = counter('hits', 'Reads answered by a tier.');
  const misses = counter('misses', 'Reads a tier could not answer.');
  const loads = counter('loader.calls', 'Loader runs.');
  const loadErrors = counter('loader.errors', 'Loader runs that failed.');
  const loadDuration = counter('loader.duration', 'Total loader time.', 's');
  const coalesced = counter('coalesced', 'Reads that joined a load in flight.');
  const leaseWaits = counter('lease.waits', "Loads that waited for another instance's lease.");
  const l2Errors = counter('l2.errors', 'Redis commands that failed or timed out.');
  const bus = counter('bus.messages', 'Invalidation messages, by direction.');
  const entries = gauge('l1.entries', 'Entries in L1.');
  const breaker = gauge('l2.breaker_open', '1 while the Redis circuit breaker is open.');
  const callback = (r: { observe: (i: any, v: number, a?: Attributes) => void }) => {
    const s = read();
    r.observe(hits, s.l1.hits, { tier: 'l1' });
    r.observe(hits, s.l2.hits, { tier: 'l2' });
    r.observe(misses, s.l1.misses, { tier: 'l1' });
    r.observe(misses, s.l2.misses, { tier: 'l2' });
    r.observe(loads, s.loads.calls);
    r.observe(loadErrors, s.loads.errors);
    r.observe(loadDuration, s.loads.durationMsSum / 1000);
    r.observe(coalesced, s.loads.coalesced);
    r.observe(leaseWaits, s.lease.waits);
    r.observe(l2Errors, s.l2.errors, { kind: 'error' });
    r.observe(l2Errors, s.l2.timeouts, { kind: 'timeout' });
    r.observe(bus, s.bus.published, { direction: 'out' });
    r.observe(bus, s.bus.received, { direction: 'in' });
    r.observe(entries, s.l1.entries);
    r.observe(breaker, s.l2.breaker === 'closed' ? 0 : 1);
  };
  const instruments = [hits, misses, loads, loadErrors, loadDuration, coalesced, leaseWaits, l2Errors, bus, entries, breaker];
  meter.addBatchObservableCallback(callback as (r: ObservableResult | any) => void, instruments);
  return () => meter.removeBatchObservableCallback(callback as (r: any) => void, instruments);
}
