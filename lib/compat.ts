/**
 * `nestjs-tiered-cache/compat`: a drop-in for `@nestjs/cache-manager` (12) users. Change the
 * import, keep the code: `CacheModule.register/registerAsync`, `CACHE_MANAGER` / `Cache`
 * (cache-manager 7's API), `CacheInterceptor`, `@CacheKey`, `@CacheTTL`. Configure the tiers
 * with our options (`redis`, `l1`, `keyPrefix`, `serializer`...) where `stores` was, or keep the
 * Keyv `stores`.
 *
 * What remains different, and why (the long form, with what improves: docs/migration-from-cache-manager.md,
 * "Coming from `@nestjs/cache-manager`" in the README):
 * - The tiers are an in-process LRU (`l1`) and Redis (`redis`), or Keyv `stores` as cache-manager 7
 *   takes them (read in order, written to all) behind the LRU. With `stores` a loader runs once
 *   per key per process (no fleet lease) and other instances' writes and deletes reach this
 *   instance's L1 only when it expires (`l1.ttl`; no bus): `redis` brings both. With neither, the
 *   cache is the LRU alone, bounded to `l1.max` entries (10,000 by default) where Keyv's Map was
 *   unbounded.
 * - "Never expires" (`ttl` unset or `0`) lasts `foreverTtl` (24 h by default): every Redis key
 *   has a TTL, so memory stays bounded. `ttl(key)` reports that expiry instead of `undefined`.
 * - Values cross Redis through the serializer (JSON by default: `Date` comes back as a string,
 *   class instances as plain objects; `serializer: 'msgpack'` keeps them). An L1 hit returns the
 *   stored object itself, as cache-manager's in-memory store does: don't mutate it.
 * - Redis trouble never rejects a call nor fills an event's `error`: reads miss, writes stay in
 *   L1, nothing waits past `l2Timeout`. Only `refresh` events carry errors (the function's).
 * - Events: no per-store events (`store: 'primary'`), no `ttl` event; they fire on the instance
 *   that made the call only.
 * - `set(key, undefined)` removes the key (cache-manager reads it back as a miss anyway); an
 *   empty key or a negative/non-numeric TTL throws a `TypeError`.
 * - `del`, `mdel`, `set` and `clear` reach every instance (their L1 copies are dropped);
 *   `clear()` removes only the keys under this cache's prefix (SCAN + UNLINK, never FLUSHDB).
 * - `wrap()` runs the function once per key across instances (Redis lease); a hot key may be
 *   refreshed shortly before it expires (`earlyRefresh`; `false` turns it off), without a
 *   `refresh` event. A `refreshThreshold` refresh is dropped if the key is written or deleted
 *   through this cache meanwhile, but not if that happens on another instance.
 * - `disconnect()` closes the connections the module opened (a client passed as `redis` stays
 *   open); the cache then serves from L1. Shutdown does it anyway.
 * - `nonBlocking` is accepted and ignored; `namespace` is appended to `keyPrefix`. Entries that
 *   `@nestjs/cache-manager` wrote are not read (another format): the cache starts cold.
 * - `CacheInterceptor` (HTTP): concurrent requests for a cold URL run the handler once and share
 *   its result (and its error); `X-Cache: MISS` marks only the request whose handler ran. A
 *   `@CacheTTL` function's error fails the request instead of skipping the cache. Server-sent
 *   events are never cached. WebSocket and microservice handlers keep read-then-write.
 * - `CacheInterceptor` never shares a response across users by accident: a request with an
 *   `Authorization` header is not cached unless the route opts in (`@CacheKey`, `@CachePublic`,
 *   a `trackBy` override), and a response marked `Cache-Control: private`/`no-store` is never
 *   stored. `@CacheKey` factories and `trackBy` may be async, as upstream.
 *
 * @packageDocumentation
 */
export { CacheModule } from './compat/cache.module.js';
export { CACHE_MODULE_OPTIONS } from './compat/cache.module-definition.js';
export { Cache } from './compat/cache-manager.interface.js';
export type {
  CacheEntry,
  CacheEvents,
  StoredDataRaw,
  WrapOptions,
  WrapOptionsRaw,
} from './compat/cache-manager.interface.js';
export type {
  CacheManagerOptions,
  CacheModuleAsyncOptions,
  CacheModuleOptions,
  CacheOptions,
  CacheOptionsFactory,
  TieredOptions,
} from './compat/cache-module-options.interface.js';
export type { KeyvStore } from './shared/keyv-shared-tier.js';
export { CacheInterceptor } from './compat/cache.interceptor.js';
export { CacheKey, type CacheKeyFactory } from './compat/cache-key.decorator.js';
export { CachePublic } from './compat/cache-public.decorator.js';
export { CacheTTL, type CacheTTLFactory } from './compat/cache-ttl.decorator.js';
export { CACHE_KEY_METADATA, CACHE_MANAGER, CACHE_PUBLIC_METADATA, CACHE_TTL_METADATA } from './compat/compat.constants.js';
