import { type DynamicModule, Module } from '@nestjs/common';
import { TieredCacheModule } from '../tiered-cache.module.js';
import { TieredCacheService } from '../tiered-cache.service.js';
import { Cache } from './cache-manager.interface.js';
import type { CacheModuleAsyncOptions, CacheModuleOptions } from './cache-module-options.interface.js';
import { compatSettings, toTieredCacheOptions } from './cache-options.util.js';
import { CACHE_MODULE_OPTIONS, CacheOptionsHostClass } from './cache.module-definition.js';
import { CACHE_MANAGER } from './compat.constants.js';
import { TieredCacheManager } from './tiered-cache-manager.js';

@Module({})
class CacheOptionsHost extends CacheOptionsHostClass {}

/**
 * `@nestjs/cache-manager`'s `CacheModule`, backed by the tiered cache: it provides `CACHE_MANAGER`
 * and `Cache` (the same instance, with cache-manager 7's API), and `TieredCacheService` (the same
 * entries, with `getOrSet`, tags and stats). Not global unless `isGlobal: true`.
 *
 * @example
 * ```ts
 * CacheModule.register({ ttl: 60_000, redis: 'redis://127.0.0.1:6379', keyPrefix: 'shop:', isGlobal: true })
 * CacheModule.registerAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory: (c: ConfigService) => ({ redis: c.get('REDIS_URL') }) })
 * ```
 * @publicApi
 */
@Module({})
export class CacheModule {
  /** Configures the cache with options known at compile time. */
  static register<StoreConfig extends Record<any, any> = Record<never, never>>(
    options: CacheModuleOptions<StoreConfig> = {} as CacheModuleOptions<StoreConfig>,
  ): DynamicModule {
    return assemble(CacheOptionsHost.register(options), options.isGlobal);
  }

  /** Configures the cache with options from a factory, a `CacheOptionsFactory` class or an existing provider. */
  static registerAsync<StoreConfig extends Record<any, any> = Record<never, never>>(options: CacheModuleAsyncOptions<StoreConfig>): DynamicModule {
    const host = CacheOptionsHost.registerAsync(options);
    return assemble({ ...host, providers: [...(host.providers ?? []), ...(options.extraProviders ?? [])] }, options.isGlobal);
  }
}

/**
 * One options module, imported by both the `TieredCacheModule` (its options) and `CacheModule`
 * (the compat settings): the same object, so Nest builds it (and runs the factory) once.
 */
function assemble(optionsModule: DynamicModule, isGlobal: boolean | undefined): DynamicModule {
  const host: DynamicModule = { ...optionsModule, exports: [CACHE_MODULE_OPTIONS] };
  return {
    module: CacheModule,
    global: isGlobal ?? false,
    imports: [
      host,
      TieredCacheModule.forRootAsync({
        imports: [host],
        inject: [CACHE_MODULE_OPTIONS],
        useFactory: toTieredCacheOptions,
        isGlobal: false,
      }),
    ],
    providers: [
      {
        provide: CACHE_MANAGER,
        inject: [TieredCacheService, CACHE_MODULE_OPTIONS],
        useFactory: (service: TieredCacheService, options: CacheModuleOptions) => new TieredCacheManager(service, compatSettings(options)),
      },
      { provide: Cache, useExisting: CACHE_MANAGER },
    ],
    // Re-exported: `CACHE_MODULE_OPTIONS` and `TieredCacheService` are injectable where `CacheModule` is.
    exports: [CACHE_MANAGER, Cache, CacheOptionsHost, TieredCacheModule],
  };
}
