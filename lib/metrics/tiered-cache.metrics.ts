import { Counter, Gauge, register as globalRegistry, type Metric, type Registry, type RegistryContentType } from 'prom-client';
import type { CacheStatsSnapshot, TieredCacheService } from '../index.js';
import { ScrapeTimeHistogram } from './scrape-time-histogram.js';

/** Options of `registerTieredCacheMetrics()`. */
export interface TieredCacheMetricsOptions {
  /**
   * The registry to add the metrics to. Pass your app's own `new Registry()` when several apps
   * (or tests) share a process.
   * @default prom-client's global `register`
   */
  registry?: Registry<RegistryContentType>;
  /**
   * Start of every metric name. Give each cache its own prefix to export two caches into one
   * registry (e.g. `'sessions_cache_'`).
   * @default 'tiered_cache_'
   */
  prefix?: string;
}

type Labels = Record<string, string>;
type Sample = readonly [labels: Labels, value: number];

interface Definition {
  kind: 'counter' | 'gauge';
  /** Name after the prefix. */
  name: string;
  help: string;
  labelNames?: readonly string[];
  /** Registered only when the cache runs this part. */
  requires?: 'l1' | 'l2' | 'bus' | 'tracking';
  samples(s: CacheStatsSnapshot): readonly Sample[];
}

const L1 = { tier: 'l1' } as const;
const L2 = { tier: 'l2' } as const;
const NONE = {} as const;

/** One sample per tier the cache runs. */
function perTier(s: CacheStatsSnapshot, l1: number, l2: number): Sample[] {
  const samples: Sample[] = [];
  if (s.l1.enabled) samples.push([L1, l1]);
  if (s.l2.enabled) samples.push([L2, l2]);
  return samples;
}

const DEFINITIONS: readonly Definition[] = [
  {
    kind: 'counter',
    name: 'hits_total',
    labelNames: ['tier'],
    help: 'Reads answered by a tier (l1: in-process, l2: Redis).',
    samples: (s) => perTier(s, s.l1.hits, s.l2.hits),
  },
  {
    kind: 'counter',
    name: 'misses_total',
    labelNames: ['tier'],
    help: 'Reads a tier could not answer.',
    samples: (s) => perTier(s, s.l1.misses, s.l2.misses),
  },
  {
    kind: 'counter',
    name: 'loader_calls_total',
    help: 'Loader (cached method) runs, i.e. reads that reached the source of truth.',
    samples: (s) => [[NONE, s.loads.calls]],
  },
  {
    kind: 'counter',
    name: 'loader_errors_total',
    help: 'Loader runs that threw or rejected (never cached).',
    samples: (s) => [[NONE, s.loads.errors]],
  },
  {
    kind: 'counter',
    name: 'coalesced_waits_total',
    help: 'Callers that joined a load already in flight in this process instead of running the loader.',
    samples: (s) => [[NONE, s.loads.coalesced]],
  },
  {
    kind: 'counter',
    name: 'loader_results_discarded_total',
    help: 'Loader results not stored because the key was evicted while the loader ran.',
    samples: (s) => [[NONE, s.lease.lost]],
  },
  {
    kind: 'counter',
    name: 'lease_acquired_total',
    requires: 'l2',
    help: 'Redis leases taken: this instance ran the loader for every instance.',
    samples: (s) => [[NONE, s.lease.acquired]],
  },
  {
    kind: 'counter',
    name: 'lease_waits_total',
    requires: 'l2',
    help: "Loads that waited for another instance's lease instead of running the loader.",
    samples: (s) => [[NONE, s.lease.waits]],
  },
  {
    kind: 'counter',
    name: 'lease_timeouts_total',
    requires: 'l2',
    help: 'Lease waits that ran out (lockWaitTimeout).',
    samples: (s) => [[NONE, s.lease.timeouts]],
  },
  {
    kind: 'counter',
    name: 'bus_messages_total',
    labelNames: ['direction'],
    requires: 'bus',
    help: 'Invalidation messages published by this instance and received from others.',
    samples: (s) => [
      [{ direction: 'published' }, s.bus.published],
      [{ direction: 'received' }, s.bus.received],
    ],
  },
  {
    kind: 'counter',
    name: 'bus_publish_failures_total',
    requires: 'bus',
    help: 'Invalidation messages that could not be published.',
    samples: (s) => [[NONE, s.bus.publishFailures]],
  },
  {
    kind: 'counter',
    name: 'bus_gaps_total',
    requires: 'bus',
    help: 'Bus reconnections after which L1 was dropped, since messages may have been missed.',
    samples: (s) => [[NONE, s.bus.gaps]],
  },
  {
    kind: 'counter',
    name: 'tracking_messages_total',
    requires: 'tracking',
    help: 'Invalidation messages Redis sent (CLIENT TRACKING): changes by other clients, expiries, evictions, flushes.',
    samples: (s) => [[NONE, s.tracking.messages]],
  },
  {
    kind: 'counter',
    name: 'tracking_gaps_total',
    requires: 'tracking',
    help: 'Times tracking came back after a connection dropped (L1 was dropped).',
    samples: (s) => [[NONE, s.tracking.gaps]],
  },
  {
    kind: 'counter',
    name: 'tag_invalidations_total',
    help: 'Tags invalidated by this instance.',
    samples: (s) => [[NONE, s.tags.invalidations]],
  },
  {
    kind: 'counter',
    name: 'operations_total',
    labelNames: ['operation'],
    help: 'Explicit writes: set (set(), @CachePut) and delete (del(), @CacheEvict).',
    samples: (s) => [
      [{ operation: 'set' }, s.sets],
      [{ operation: 'delete' }, s.deletes],
    ],
  },
  {
    kind: 'counter',
    name: 'l2_errors_total',
    requires: 'l2',
    help: 'Redis commands that failed (connection refused, Redis error).',
    samples: (s) => [[NONE, s.l2.errors]],
  },
  {
    kind: 'counter',
    name: 'l2_timeouts_total',
    requires: 'l2',
    help: 'Redis commands abandoned after l2Timeout.',
    samples: (s) => [[NONE, s.l2.timeouts]],
  },
  {
    kind: 'counter',
    name: 'l2_skipped_total',
    requires: 'l2',
    help: 'Redis commands not sent because the connection was not ready (degraded mode).',
    samples: (s) => [[NONE, s.l2.skipped]],
  },
  {
    kind: 'counter',
    name: 'l2_corrupt_entries_total',
    requires: 'l2',
    help: 'Redis entries that did not decode: deleted and treated as misses.',
    samples: (s) => [[NONE, s.l2.corrupt]],
  },
  {
    kind: 'gauge',
    name: 'l2_breaker_open',
    requires: 'l2',
    help: '1 while the Redis circuit breaker is open (no reads or writes sent to Redis), else 0.',
    samples: (s) => [[NONE, s.l2.breaker === 'closed' ? 0 : 1]],
  },
  {
    kind: 'counter',
    name: 'l2_breaker_opens_total',
    requires: 'l2',
    help: 'Times the Redis circuit breaker opened.',
    samples: (s) => [[NONE, s.l2.breakerOpens]],
  },
  {
    kind: 'gauge',
    name: 'l2_pending_writes',
    requires: 'l2',
    help: 'Writes and invalidations Redis has not confirmed yet (retried until it does).',
    samples: (s) => [[NONE, s.l2.pendingWrites]],
  },
  {
    kind: 'counter',
    name: 'stale_served_total',
    help: 'Reads answered with a stale value in its grace period (a refresh ran or was backing off).',
    samples: (s) => [[NONE, s.grace.staleServed]],
  },
  {
    kind: 'counter',
    name: 'refreshes_total',
    labelNames: ['result'],
    help: 'Background refreshes (grace period and early refresh), by result.',
    samples: (s) => [
      [{ result: 'ok' }, s.grace.refreshes - s.grace.refreshErrors],
      [{ result: 'error' }, s.grace.refreshErrors],
    ],
  },
  {
    kind: 'counter',
    name: 'early_refreshes_total',
    help: 'Refreshes started before expiry by XFetch.',
    samples: (s) => [[NONE, s.grace.earlyRefreshes]],
  },
  {
    kind: 'counter',
    name: 'loader_timeouts_total',
    labelNames: ['kind'],
    help: 'Reads that stopped waiting for a loader: soft (served the stale value) or hard (LoaderTimeoutError).',
    samples: (s) => [
      [{ kind: 'soft' }, s.grace.softTimeouts],
      [{ kind: 'hard' }, s.grace.hardTimeouts],
    ],
  },
  {
    kind: 'counter',
    name: 'serialization_errors_total',
    help: 'Values that could not be serialized: returned to their caller, not cached.',
    samples: (s) => [[NONE, s.serializationErrors]],
  },
  {
    kind: 'gauge',
    name: 'entries',
    labelNames: ['tier'],
    requires: 'l1',
    help: 'Entries held in the in-process tier now.',
    samples: (s) => [[L1, s.l1.entries]],
  },
  {
    kind: 'gauge',
    name: 'size_bytes',
    labelNames: ['tier'],
    requires: 'l1',
    help: 'Approximate bytes held in the in-process tier now (0 unless l1.maxSize is set).',
    samples: (s) => [[L1, s.l1.bytes]],
  },
  {
    kind: 'gauge',
    name: 'l2_connected',
    requires: 'l2',
    help: '1 when the Redis command connection is ready, else 0.',
    samples: (s) => [[NONE, s.l2.connected ? 1 : 0]],
  },
  {
    kind: 'gauge',
    name: 'bus_connected',
    requires: 'bus',
    help: '1 when the invalidation bus is subscribed, else 0.',
    samples: (s) => [[NONE, s.bus.connected ? 1 : 0]],
  },
  {
    kind: 'gauge',
    name: 'tracking_active',
    requires: 'tracking',
    help: '1 when Redis reports every change (CLIENT TRACKING on), else 0.',
    samples: (s) => [[NONE, s.tracking.status === 'on' ? 1 : 0]],
  },
  {
    kind: 'gauge',
    name: 'tracking_refused',
    requires: 'tracking',
    help: '1 when the server refused CLIENT TRACKING (the bus alone invalidates), else 0.',
    samples: (s) => [[NONE, s.tracking.status === 'refused' ? 1 : 0]],
  },
  {
    kind: 'gauge',
    name: 'degraded',
    help: '1 when Redis is configured but unreachable and the cache serves from L1 and loaders only, else 0.',
    samples: (s) => [[NONE, s.degraded ? 1 : 0]],
  },
];

/**
 * Exports a `TieredCacheService`'s counters to Prometheus through prom-client. The values are
 * read from `cache.stats()` when the registry is scraped, once per scrape: nothing is added to
 * the cache's hot path.
 *
 * Metrics (with the default prefix `tiered_cache_`):
 * - `tiered_cache_hits_total{tier}`, `tiered_cache_misses_total{tier}`: reads per tier
 *   (`tier="l1"` in-process, `tier="l2"` Redis).
 * - `tiered_cache_loader_calls_total`, `tiered_cache_loader_errors_total`,
 *   `tiered_cache_loader_duration_seconds` (histogram): runs of the cached methods and loaders.
 * - `tiered_cache_coalesced_waits_total`: callers that waited for a load in flight in this process;
 *   `tiered_cache_lease_acquired_total`, `tiered_cache_lease_waits_total`,
 *   `tiered_cache_lease_timeouts_total`: the Redis lease that runs one loader across instances;
 *   `tiered_cache_loader_results_discarded_total`: results dropped because the key was evicted
 *   while the loader ran.
 * - `tiered_cache_bus_messages_total{direction="published"|"received"}`,
 *   `tiered_cache_bus_publish_failures_total`, `tiered_cache_bus_gaps_total`: the invalidation bus;
 *   `tiered_cache_tag_invalidations_total`; `tiered_cache_tracking_messages_total`,
 *   `tiered_cache_tracking_gaps_total`: server-assisted invalidation (`tracking`).
 * - `tiered_cache_operations_total{operation="set"|"delete"}`: explicit writes.
 * - `tiered_cache_l2_errors_total`, `tiered_cache_l2_timeouts_total`, `tiered_cache_l2_skipped_total`,
 *   `tiered_cache_l2_corrupt_entries_total`, `tiered_cache_serialization_errors_total`.
 * - Gauges: `tiered_cache_entries{tier="l1"}`, `tiered_cache_size_bytes{tier="l1"}`,
 *   `tiered_cache_l2_connected`, `tiered_cache_bus_connected`, `tiered_cache_tracking_active`,
 *   `tiered_cache_tracking_refused`, `tiered_cache_degraded`.
 *
 * A part the cache does not run (`redis: false`, `l1: false`, no bus) exports no series.
 *
 * @returns A function that removes these metrics from the registry again (e.g. on shutdown).
 * @throws Error if the registry already holds a metric with one of these names; nothing is
 *   registered then.
 *
 * @publicApi
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
 *
 * const registry = new Registry();
 * registerTieredCacheMetrics(app.get(TieredCacheService), { registry });
 * // GET /metrics: res.type(registry.contentType).send(await registry.metrics())
 * ```
 */
export function registerTieredCacheMetrics(cache: TieredCacheService, options: TieredCacheMetricsOptions = {}): () => void {
  const registry = options.registry ?? globalRegistry;
  const prefix = options.prefix ?? 'tiered_cache_';

  // Every metric's collect() runs in the same synchronous pass of one scrape: read the stats
  // once for all of them, so that one scrape is one consistent snapshot.
  let snapshot: CacheStatsSnapshot | undefined;
  const read = (): CacheStatsSnapshot => {
    if (!snapshot) {
      snapshot = cache.stats();
      queueMicrotask(() => (snapshot = undefined));
    }
    return snapshot;
  };

  const { l1, l2, bus, tracking } = cache.stats();
  const runs = { l1: l1.enabled, l2: l2.enabled, bus: bus.enabled, tracking: tracking.enabled };
  const metrics = new Map<string, Metric>();
  for (const def of DEFINITIONS) {
    if (def.requires && !runs[def.requires]) continue;
    const name = prefix + def.name;
    const config = { name, help: def.help, labelNames: def.labelNames ?? [], registers: [] };
    const samples = () => def.samples(read());
    metrics.set(
      name,
      def.kind === 'counter'
        ? new Counter({
            ...config,
            collect() {
              this.reset();
              for (const [l, v] of samples()) this.inc(l, v);
            },
          })
        : new Gauge({
            ...config,
            collect() {
              this.reset();
              for (const [l, v] of samples()) this.set(l, v);
            },
          }),
    );
  }
  const loaderDuration = new ScrapeTimeHistogram(`${prefix}loader_duration_seconds`, 'Time loaders (cached methods) took, in seconds.', () => {
    const { loads } = read();
    const { boundsMs, counts } = loads.durationHistogram;
    return {
      bounds: boundsMs.map((ms) => ms / 1000),
      cumulativeCounts: counts,
      count: loads.durationCount,
      sum: loads.durationMsSum / 1000,
    };
  });
  metrics.set(loaderDuration.name, loaderDuration as unknown as Metric);

  const taken = [...metrics.keys()].filter((name) => registry.getSingleMetric(name));
  if (taken.length > 0) {
    throw new Error(
      `registerTieredCacheMetrics: the registry already has ${taken.join(', ')}. Register each cache once per registry, or give each its own \`prefix\`.`,
    );
  }
  for (const metric of metrics.values()) registry.registerMetric(metric);
  return () => {
    for (const name of metrics.keys()) registry.removeSingleMetric(name);
  };
}
