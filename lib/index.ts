export { TieredCacheModule } from './tiered-cache.module.js';
export { TieredCacheService } from './tiered-cache.service.js';
export { Cacheable } from './decorators/cacheable.decorator.js';
export { CacheEvict } from './decorators/cache-evict.decorator.js';
export { CachePut } from './decorators/cache-put.decorator.js';
export { LockTimeoutError, TieredCacheConfigError, TieredCacheError } from './errors.js';
export { LoaderTimeoutError } from './resilience/timeouts.js';
export { CACHE_TRACE_CHANNELS, type CacheTraceMessage } from './telemetry/trace-channels.js';
export type { ReadOutcome } from './interfaces/read-outcome.interface.js';
export type {
  L1Options,
  RedisClusterConfig,
  Serializer,
  SerializerOption,
  TieredCacheModuleOptions,
} from './interfaces/tiered-cache-options.interface.js';
export type {
  CacheEntryInfo,
  CacheableOptions,
  CacheEvictOptions,
  CachePutOptions,
  GetOrSetOptions,
  SetOptions,
} from './interfaces/cache-operation-options.interface.js';
export type { CacheStatsSnapshot } from './interfaces/cache-stats.interface.js';
