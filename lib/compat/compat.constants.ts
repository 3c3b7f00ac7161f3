/**
 * Injection token of the cache (the string `'CACHE_MANAGER'`, as in `@nestjs/cache-manager`).
 * `Cache` (the class) names the same instance.
 * @publicApi
 */
export const CACHE_MANAGER = 'CACHE_MANAGER';

/** Metadata key of `@CacheKey()`; the same string as `@nestjs/cache-manager`'s. */
export const CACHE_KEY_METADATA = 'cache_module:cache_key';

/** Metadata key of `@CacheTTL()`; the same string as `@nestjs/cache-manager`'s. */
export const CACHE_TTL_METADATA = 'cache_module:cache_ttl';

/** Metadata key of `@CachePublic()` (this library's own). */
export const CACHE_PUBLIC_METADATA = 'nestjs-tiered-cache:cache_public';

/** Where `CacheInterceptor` reaches the single-flight path of the compat cache (not public). */
export const LOAD_ONCE = Symbol('nestjs-tiered-cache:compat:load-once');
