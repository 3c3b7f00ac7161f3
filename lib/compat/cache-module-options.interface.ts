import type { ConfigurableModuleAsyncOptions, Provider, Type } from '@nestjs/common';
import type { TieredCacheModuleOptions } from '../interfaces/tiered-cache-options.interface.js';

/**
 * The options `@nestjs/cache-manager` documents, with their meaning here. Durations in
 * milliseconds.
 * @publicApi
 */
export interface CacheManagerOptions {
  /**
   * Default time to live of an entry. Unset or `0` means "never expires", which here means
   * `foreverTtl`: every Redis key expires.
   */
  ttl?: number;
  /**
   * Appended to `keyPrefix` (as `namespace + ':'`): caches with different namespaces never see
   * each other's entries.
   */
  namespace?: string;
  /** Default `refreshThreshold` of `wrap()`. Default: none. */
  refreshThreshold?: number;
  /**
   * Accepted and ignored: writes never wait longer than `l2Timeout` for Redis, and reads never
   * fail because of it.
   */
  nonBlocking?: boolean;
  /** What `cacheId()` returns. Default: a random id. */
  cacheId?: string;
  /**
   * Not supported: there are no Keyv stores. Give `redis` (and `l1`) instead; a `stores` option
   * fails at bootstrap with a message saying so.
   */
  stores?: never;
}

/**
 * The tiered cache's own options that apply here (`redis`, `l1`, `keyPrefix`, `serializer`,
 * timeouts, `lock`, `bus`...), see `TieredCacheModuleOptions`. `ttl` takes the meaning above;
 * `nullTtl` does not apply (`null` is a value here, cached like any other).
 */
export interface TieredOptions extends Omit<TieredCacheModuleOptions, 'ttl' | 'nullTtl'> {
  /**
   * How long an entry that "never expires" (`ttl` unset or `0`) lives, in milliseconds: every
   * Redis key has a TTL, so memory stays bounded.
   * @default 86_400_000 (24 hours)
   */
  foreverTtl?: number;
}

/** The options of `CacheModule.register()` without `isGlobal`. */
export type CacheOptions<StoreConfig extends Record<any, any> = Record<never, never>> = CacheManagerOptions &
  TieredOptions &
  StoreConfig;

/** The options of `CacheModule.register()`. */
export type CacheModuleOptions<StoreConfig extends Record<any, any> = Record<never, never>> =
  CacheOptions<StoreConfig> & {
    /** Register `CacheModule` as a global module. @default false */
    isGlobal?: boolean;
  };

/**
 * A provider of the options, for `registerAsync({ useClass })` / `({ useExisting })`.
 * @publicApi
 */
export interface CacheOptionsFactory<StoreConfig extends Record<any, any> = Record<never, never>> {
  createCacheOptions(): Promise<CacheOptions<StoreConfig>> | CacheOptions<StoreConfig>;
}

/**
 * The options of `CacheModule.registerAsync()`: `useFactory` (+ `inject`), `useClass` or
 * `useExisting`, with `imports`, `extraProviders` and `isGlobal`.
 * @publicApi
 */
export interface CacheModuleAsyncOptions<StoreConfig extends Record<any, any> = Record<never, never>>
  extends ConfigurableModuleAsyncOptions<CacheOptions<StoreConfig>, keyof CacheOptionsFactory> {
  /** An existing provider implementing `CacheOptionsFactory`. */
  useExisting?: Type<CacheOptionsFactory<StoreConfig>>;
  /** A class implementing `CacheOptionsFactory`, instantiated inside the module. */
  useClass?: Type<CacheOptionsFactory<StoreConfig>>;
  /** A function returning the options (or a promise of them); its dependencies go in `inject`. */
  useFactory?: (...args: any[]) => Promise<CacheOptions<StoreConfig>> | CacheOptions<StoreConfig>;
  inject?: any[];
  /** Providers registered beside the options factory, for it (or `useClass`) to inject. */
  extraProviders?: Provider[];
  /** Register `CacheModule` as a global module. @default false */
  isGlobal?: boolean;
}
