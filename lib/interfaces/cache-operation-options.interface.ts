/** Options of `TieredCacheService.set()`. Durations in milliseconds. */
export interface SetOptions {
  /** Time to live in Redis (and in L1 when there is no Redis). Default: the module's `ttl`. */
  ttl?: number;
  /** Time to live in L1. Default: the module's `l1.ttl`, never longer than `ttl`. */
  l1Ttl?: number;
  /** Tags of the entry: `invalidateTags([tag])` invalidates every entry carrying it, on every instance. */
  tags?: readonly string[];
  /**
   * Time to live of a `null`/`undefined` value. Default: the module's `nullTtl`. `0` does not
   * cache such values.
   */
  nullTtl?: number;
}

/** An entry with its times (epoch milliseconds), as `TieredCacheService.peek()` returns it. */
export interface CacheEntryInfo<T = unknown> {
  value: T;
  /** When its load started, or when it was set. */
  createdAt: number;
  /** When it stops being fresh. */
  expiresAt: number;
  /** End of its grace period (equal to `expiresAt` without one). */
  staleUntil: number;
}

/** Options of `TieredCacheService.getOrSet()`. Durations in milliseconds. */
export interface GetOrSetOptions extends SetOptions {
  /** Take the fleet-wide lease on a miss. Default: the module's `lock`. */
  lock?: boolean;
  /** Grace period after `ttl` (stale-while-revalidate and fail-safe). Default: the module's `grace`. */
  grace?: number;
  /** Wait before retrying a failed refresh in the grace period. Default: the module's `graceBackoff`. */
  graceBackoff?: number;
  /** Wait for a refresh before serving the stale value. Default: the module's `softTimeout`. */
  softTimeout?: number;
  /** Wait for a load without a stale value before failing. Default: the module's `hardTimeout`. */
  hardTimeout?: number;
  /** XFetch beta, or false. Default: the module's `earlyRefresh`. */
  earlyRefresh?: number | false;
}

/** Options of `@Cacheable()`. `A` are the decorated method's parameters, `R` its resolved result. */
export interface CacheableOptions<A extends unknown[] = any[], R = any> extends Omit<GetOrSetOptions, 'tags'> {
  /** Tags of the entry, from the method's arguments. */
  tags?: (...args: A) => readonly string[];
  /**
   * The cache key, from the method's arguments. Default: `Namespace:method:<arguments as
   * canonical JSON>` (see `namespace`). Give a key when another method or a service call must
   * read or evict the same entry.
   * @example key: (id: number) => `product:${id}`
   */
  key?: (...args: A) => string;
  /**
   * Name that default keys start with, which `@CacheEvict({ allEntries: true })` clears.
   * Default: the name of the class that declares the method.
   */
  namespace?: string;
  /** When it returns false the method runs and the cache is not touched. */
  condition?: (...args: A) => boolean;
  /** When it returns true the result is returned but not stored. */
  unless?: (result: R) => boolean;
}

/** Options of `@CacheEvict()`. */
export interface CacheEvictOptions<A extends unknown[] = any[]> {
  /** The key (or keys) to evict, from the method's arguments. Required unless `allEntries` or `tags` is set. */
  key?: (...args: A) => string | readonly string[];
  /** Name whose default keys `allEntries` clears. Default: the declaring class's name. */
  namespace?: string;
  /**
   * Evict every entry whose default key is in this class's namespace (entries cached by
   * `@Cacheable` without a `key`).
   * @default false
   */
  allEntries?: boolean;
  /**
   * Evict before the method runs (and so even if it throws). By default eviction happens after
   * the method resolves, and nothing is evicted when it throws.
   * @default false
   */
  beforeInvocation?: boolean;
  /** Tags to invalidate (every entry carrying one of them, on every instance), from the arguments. */
  tags?: (...args: A) => readonly string[];
  /** When it returns false nothing is evicted. */
  condition?: (...args: A) => boolean;
}

/** Options of `@CachePut()`: the method always runs and its result is stored. */
export interface CachePutOptions<A extends unknown[] = any[], R = any> extends Omit<GetOrSetOptions, 'tags' | 'lock'> {
  /** Tags of the entry, from the method's arguments. */
  tags?: (...args: A) => readonly string[];
  /** The key to store under (required): the key the matching `@Cacheable` or service call reads. */
  key: (...args: A) => string;
  /** When it returns false the method runs and the cache is not touched. */
  condition?: (...args: A) => boolean;
  /** When it returns true the result is returned but not stored. */
  unless?: (result: R) => boolean;
}
