/**
 * `nestjs-tiered-cache/prometheus`: export the cache's counters through prom-client. A separate
 * entry point so that `prom-client` stays an optional peer dependency of the main entry.
 */
export { registerTieredCacheMetrics, type TieredCacheMetricsOptions } from './metrics/tiered-cache.metrics.js';
