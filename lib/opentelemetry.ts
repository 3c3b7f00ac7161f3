export { instrumentTieredCache, type TieredCacheInstrumentationOptions } from './telemetry/otel-instrumentation.js';
export type { ReadOutcome } from './interfaces/read-outcome.interface.js';
