export { instrumentTieredCache, type TieredCacheInstrumentationOptions } from './telemetry/otel-instrumentation.js';
export type { CacheObserver, ObservedScope, ReadOutcome } from './interfaces/cache-observer.interface.js';
