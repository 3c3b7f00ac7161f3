/**
 * `nestjs-tiered-cache/terminus`: the Terminus health indicator. A separate entry point so that
 * `@nestjs/terminus` stays an optional peer dependency of the main entry.
 */
export {
  TieredCacheHealthIndicator,
  type BusHealth,
  type TrackingHealth,
  type RedisHealth,
  type RedisProblem,
  type TieredCacheHealthDetails,
  type TieredCacheHealthOptions,
} from './health/tiered-cache.health.js';
