import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { busChannel } from './bus/bus-message.js';
import { createCodec } from './codec/serializers.js';
import { CacheEngine } from './engine/cache-engine.js';
import type { TieredCacheModuleOptions } from './interfaces/tiered-cache-options.interface.js';
import { createRedisClient } from './l2/redis-connection.js';
import { RedisTier } from './l2/redis-tier.js';
import { type ResolvedOptions, resolveOptions } from './options/resolve-options.js';
import type { SharedTier } from './shared/shared-tier.interface.js';
import { CacheStats } from './stats/cache-stats.js';
import { SHARED_TIER_FACTORY } from './tiered-cache.constants.js';
import { ConfigurableModuleClass, TIERED_CACHE_OPTIONS } from './tiered-cache.module-definition.js';
import { TieredCacheExplorer } from './tiered-cache.explorer.js';
import { TieredCacheService } from './tiered-cache.service.js';

/**
 * Registers the cache. Global by default (`isGlobal: false` to scope it), so decorated methods of
 * any module find it.
 *
 * @example
 * ```ts
 * TieredCacheModule.forRoot({ redis: 'redis://127.0.0.1:6379', keyPrefix: 'shop:', ttl: 300_000 })
 * TieredCacheModule.forRootAsync({ inject: [ConfigService], useFactory: (c: ConfigService) => ({ redis: c.get('REDIS_URL') }) })
 * ```
 * @publicApi
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: TieredCacheService,
      inject: [TIERED_CACHE_OPTIONS],
      useFactory: createTieredCache,
    },
    TieredCacheExplorer,
  ],
  exports: [TieredCacheService],
})
export class TieredCacheModule extends ConfigurableModuleClass {}

/**
 * Validates the options (a bad option fails bootstrap with a message naming the fix), then waits
 * for Redis at most `connectTimeout`, so the first calls after `app.init()` already read Redis.
 */
async function createTieredCache(options: TieredCacheModuleOptions & { [SHARED_TIER_FACTORY]?: SharedTierFactory }): Promise<TieredCacheService> {
  const otherTier = options?.[SHARED_TIER_FACTORY];
  const resolved = resolveOptions(options, otherTier !== undefined);
  const codec = await createCodec(resolved.serializer, resolved.maxValueBytes);
  const stats = new CacheStats();
  const shared = otherTier
    ? otherTier(resolved, codec.binary, stats)
    : resolved.redis
      ? new RedisTier(createRedisClient(resolved.redis), codec.binary, resolved.l2Timeout, stats, resolved.breaker)
      : undefined;
  const engine = new CacheEngine(resolved, codec, shared, stats);
  if (shared instanceof RedisTier) shared.checkPermissionsOnReady(resolved.keyPrefix, busChannel(resolved.keyPrefix));
  await engine.connect();
  return new TieredCacheService(engine);
}

/** Builds a shared tier other than Redis from the resolved options (see `SHARED_TIER_FACTORY`). */
export type SharedTierFactory = (resolved: ResolvedOptions, binary: boolean, stats: CacheStats) => SharedTier;
