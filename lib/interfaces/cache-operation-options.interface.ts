import type { EntryOptions } from '../options/entry-policy.js';

/**
 * Options of `TieredCacheService.set()`: the entry options that shape a stored entry. Durations in
 * milliseconds; each defaults to the module's option.
 */
export interface SetOptions extends Pick<EntryOptions, 'ttl' | 'l1Ttl' | 'nullTtl' | 'grace' | 'earlyRefresh' | 'jitter'> {
  /** Tags of the entry: `invalidateTags([tag])` invalidates every entry carrying it, on every instance. */
  tags?: readonly string[];
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

/** Options of `TieredCacheService.getOrSet()`: every entry option, plus tags. Durations in milliseconds. */
export interface GetOrSetOptions extends EntryOptions {
  /** Tags of the entry: `invalidateTags([tag])` invalidates every entry carrying it, on every instance. */
  tags?: readonly string[];
}

/** Options of `@Cacheable()`. `A` are the decorated method's parameters, `R` its resolved result. */
export interface CacheableOptions<A extends unknown[] = any[], R = any> extends EntryOptions {
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
export interface CachePutOptions<A extends unknown[] = any[], R = any> extends Omit<SetOptions, 'tags'> {
  /** Tags of the entry, from the method's arguments. */
  tags?: (...args: A) => readonly string[];
  /** The key to store under (required): the key the matching `@Cacheable` or service call reads. */
  key: (...args: A) => string;
  /** When it returns false the method runs and the cache is not touched. */
  condition?: (...args: A) => boolean;
  /** When it returns true the result is returned but not stored. */
  unless?: (result: R) => boolean;
}
