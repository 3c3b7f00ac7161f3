import type { ConfigurableModuleAsyncOptions, Provider, Type } from '@nestjs/common';
import type { TieredCacheModuleOptions } from '../interfaces/tiered-cache-options.interface.js';
import type { KeyvStore } from '../shared/keyv-shared-tier.js';

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
   * Keyv stores, as cache-manager 7 takes them: one or a list of `Keyv` instances
   * (`createKeyv(url)`), Keyv store adapters (`new KeyvRedis(url)`, wrapped in a `Keyv` with
   * `namespace`) or `Cacheable` instances. They become the shared tier, behind L1 (`l1`; its
   * `ttl`, 10 000 ms by default, bounds how long another instance's change goes unseen here):
   * reads go through the stores in order (first hit wins), writes and deletes go to all of them.
   *
   * Keyv stores have no pub/sub and no lock: a loader runs once per key at a time in each
   * process (not across instances), and writes and deletes reach other instances' L1 only when
   * their copies expire. Give `redis` instead (not both) for the fleet-wide lease and the
   * invalidation bus. Every store call is bounded by `l2Timeout`; a store error or timeout never
   * fails a call (it is counted in `stats().l2`). The stores are disconnected at shutdown, as
   * `@nestjs/cache-manager` does. `clear()` deletes this cache's keys through the store's
   * iterator where it has one (Keyv over Redis or a Map), else clears the whole store.
   * @default none (no stores: the tiers are `l1` and `redis`)
   * @example stores: [new KeyvRedis('redis://127.0.0.1:6379')]
   */
  stores?: KeyvStore | KeyvStore[];
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
export type CacheOptions<StoreConfig extends Record<any, any> = Record<never, never>> = CacheManagerOptions & TieredOptions & StoreConfig;

/** The options of `CacheModule.register()`. */
export type CacheModuleOptions<StoreConfig extends Record<any, any> = Record<never, never>> = CacheOptions<StoreConfig> & {
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
