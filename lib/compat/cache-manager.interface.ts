import type { EventEmitter } from 'node:events';
import type { KeyvStore } from '../shared/keyv-shared-tier.js';

/** Options of `wrap()` given as an object. Durations in milliseconds. */
export interface WrapOptions<T> {
  /** Time to live of the stored result, or a function of it. Default: the module's `ttl`. */
  ttl?: number | ((value: T) => number);
  /**
   * When a hit has less than this left to live, it is returned and the function runs again in
   * the background to replace it. Default: the module's `refreshThreshold` (none).
   */
  refreshThreshold?: number | ((value: T) => number);
}

/** `wrap()` options asking for the value with its expiry. */
export interface WrapOptionsRaw<T> extends WrapOptions<T> {
  raw: true;
}

/** What `wrap(..., { raw: true })` resolves to: the value and its expiry in epoch milliseconds. */
export interface StoredDataRaw<T> {
  value?: T;
  expires?: number;
}

/** One entry of `mset()`. */
export interface CacheEntry<T> {
  key: string;
  value: T;
  /** Milliseconds; default: the module's `ttl`. */
  ttl?: number;
}

/** Events of the cache and their payloads, as cache-manager 7 emits them. */
export interface CacheEvents {
  /** A `get()` that found a value (or failed: `error`). */
  get: <T>(data: { key: string; value?: T; error?: unknown }) => void;
  mget: <T>(data: { keys: string[]; values?: Array<T | undefined>; error?: unknown }) => void;
  /** A key was added or changed by `set()` (and by a `wrap()` refresh). */
  set: <T>(data: { key: string; value: T; error?: unknown }) => void;
  mset: <T>(data: { list: Array<CacheEntry<T>>; error?: unknown }) => void;
  /** A key was removed by `del()`. */
  del: (data: { key: string; error?: unknown }) => void;
  mdel: (data: { keys: string[]; error?: unknown }) => void;
  /** The cache was flushed by `clear()`. */
  clear: (error?: unknown) => void;
  /** A `wrap()` refresh (see `refreshThreshold`) finished: `value` is the new value, or the old one with `error`. */
  refresh: <T>(data: { key: string; value: T; error?: unknown }) => void;
}

/**
 * The cache injected with `CACHE_MANAGER` or `Cache`: the surface of cache-manager 7's
 * `createCache()`, backed by the tiered cache (L1 in process, L2 in Redis). Durations are
 * milliseconds. The methods are bound (destructuring them works, as with cache-manager).
 *
 * Differences from cache-manager 7 are listed in the `nestjs-tiered-cache/compat` entry point.
 *
 * Also a class, so it can be an injection token: `constructor(private cache: Cache) {}`.
 * @publicApi
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface and its injection token share one name, as in @nestjs/cache-manager
export abstract class Cache {}

export interface Cache {
  /** The value, `undefined` when the key is missing or expired; a stored `null` is `null`. */
  get: <T>(key: string) => Promise<T | undefined>;
  /** The values of several keys, in order, `undefined` for the missing ones. */
  mget: <T>(keys: string[]) => Promise<Array<T | undefined>>;
  /** When the key expires, in epoch milliseconds; `undefined` when it is missing. */
  ttl: (key: string) => Promise<number | undefined>;
  /** Stores a value for `ttl` milliseconds (default: the module's `ttl`; `0`: no expiry) and returns it. */
  set: <T>(key: string, value: T, ttl?: number) => Promise<T>;
  /** Stores several values; returns the list with each entry's TTL filled in. */
  mset: <T>(list: Array<CacheEntry<T>>) => Promise<Array<CacheEntry<T>>>;
  /** Removes a key, here and on every instance. */
  del: (key: string) => Promise<boolean>;
  /** Removes several keys, here and on every instance. */
  mdel: (keys: string[]) => Promise<boolean>;
  /** Removes every key of this cache (under its key prefix), here and on every instance. */
  clear: () => Promise<boolean>;
  on: <E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]) => EventEmitter;
  off: <E extends keyof CacheEvents>(event: E, listener: CacheEvents[E]) => EventEmitter;
  /** Closes the Redis connections the module opened (it also does so at application shutdown). */
  disconnect: () => Promise<undefined>;
  /** This cache's id: the module's `cacheId` option, or a random one. */
  cacheId: () => string;
  /**
   * The Keyv stores behind this cache (the `stores` option, adapters wrapped in `Keyv`); empty
   * when the tiers are `l1` and `redis`. Writing to them directly bypasses L1: don't.
   */
  stores: KeyvStore[];
  /**
   * The cached value, or `fnc()`'s result, stored for next time. Concurrent calls for one key
   * run `fnc` once (across instances, while Redis is up); its error reaches each of them and is
   * not cached.
   */
  wrap: {
    <T>(key: string, fnc: () => T | Promise<T>, ttl?: number | ((value: T) => number), refreshThreshold?: number | ((value: T) => number)): Promise<T>;
    <T>(key: string, fnc: () => T | Promise<T>, options: WrapOptions<T>): Promise<T>;
    <T>(key: string, fnc: () => T | Promise<T>, options: WrapOptionsRaw<T>): Promise<StoredDataRaw<T>>;
  };
}
