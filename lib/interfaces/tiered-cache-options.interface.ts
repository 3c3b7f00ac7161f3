import type { Cluster, Redis, RedisOptions } from 'ioredis';

/**
 * How values are turned into bytes for Redis.
 * - `'json'` (default): `JSON.stringify`/`JSON.parse`. Dates come back as ISO strings, `Map`/`Set`
 *   as `{}`, functions inside objects are dropped; `BigInt` and circular values are not cached.
 * - `'msgpack'`: msgpackr (install `msgpackr`); keeps `Date`, `Map`, `Set`, `BigInt` and binary data.
 * - your own `{ serialize, deserialize }`.
 */
export type SerializerOption = 'json' | 'msgpack' | Serializer;

/** A custom serializer. `serialize` may throw for values it cannot represent: they are not cached. */
export interface Serializer {
  serialize(value: unknown): string | Buffer;
  deserialize(raw: Buffer): unknown;
}

/** The in-process tier (lru-cache). */
export interface L1Options {
  /**
   * Most entries kept; the least recently used go first.
   * @default 10_000
   */
  max?: number;
  /**
   * Longest time an entry stays in L1, in milliseconds. It bounds how long another instance can
   * serve a value that was changed elsewhere when invalidation messages cannot reach it.
   * An entry read back from Redis lives min(this, its remaining Redis TTL).
   * Ignored when `redis` is `false`: L1 is then the only tier and entries live for their `ttl`.
   * @default 10_000
   */
  ttl?: number;
  /**
   * Bound on the approximate size of L1 in bytes (measured from the serialized value, or with
   * `sizeCalculation`). Unset: L1 is bounded by `max` only.
   */
  maxSize?: number;
  /** Size of one entry in bytes, for `maxSize`. Default: the length of its serialized form. */
  sizeCalculation?: (value: unknown, key: string) => number;
}

/** Options of `TieredCacheModule.forRoot()`. Every duration is in milliseconds. */
export interface TieredCacheModuleOptions {
  /**
   * The shared tier: a Redis URL, ioredis options, an existing ioredis `Redis`/`Cluster`
   * (never closed by the library), or `false` to run L1 only.
   * @default false
   */
  redis?: string | RedisOptions | Redis | Cluster | false;
  /**
   * Prefix of every Redis key and channel the library writes. Two apps with different prefixes
   * never see each other's entries.
   * @default 'tiered-cache:'
   */
  keyPrefix?: string;
  /**
   * Default time to live of an entry, in milliseconds.
   * @default 60_000
   */
  ttl?: number;
  /**
   * Time to live of a cached `null`/`undefined` result (negative caching), in milliseconds,
   * never longer than the entry's `ttl`. `0` stores no null results.
   * @default 5_000
   */
  nullTtl?: number;
  /** The in-process tier, or `false` to read Redis on every call. */
  l1?: L1Options | false;
  /** @default 'json' */
  serializer?: SerializerOption;
  /**
   * Longest wait for one Redis command, in milliseconds. Past it the call goes on as if Redis
   * had missed (reads) or is left to finish in the background (writes).
   * @default 250
   */
  l2Timeout?: number;
  /**
   * Longest wait for the Redis connection at application start, in milliseconds. If Redis is not
   * ready by then the app starts anyway, serving from L1 and the loaders, and uses Redis as soon
   * as it connects.
   * @default 2_000
   */
  connectTimeout?: number;
  /**
   * Take a Redis lease per key on a miss, so one instance in the fleet runs the loader while the
   * others wait for its result (`lock: false` per call or decorator for cheap loaders). Without
   * Redis, or while it is away, only the in-process single flight applies.
   * @default true
   */
  lock?: boolean;
  /**
   * Lifetime of a lease in milliseconds. The holder extends it while its loader runs, so it can
   * stay short: it is how long the others wait if the holder dies.
   * @default 2_000
   */
  leaseTtl?: number;
  /**
   * Longest wait for another instance's load, in milliseconds. Then `onLockTimeout` decides.
   * @default 5_000
   */
  lockWaitTimeout?: number;
  /**
   * After `lockWaitTimeout`: `'load'` runs the loader anyway (availability first); `'error'`
   * rejects with `LockTimeoutError`.
   * @default 'load'
   */
  onLockTimeout?: 'load' | 'error';
  /**
   * Publish invalidations (set, del, clear, tags) on Redis pub/sub so every instance drops its
   * L1 copy; `false` leaves other instances stale until their `l1.ttl`.
   * @default true
   */
  bus?: boolean;
  /**
   * How long a tag invalidation is remembered, in milliseconds. An entry with tags never lives in
   * Redis longer than this, so an invalidated entry can never outlive the marker that hides it.
   * @default 86_400_000 (24 hours)
   */
  tagTtl?: number;
  /**
   * Keys longer than this (in characters) are stored in Redis under a SHA-256 hash of the key.
   * @default 256
   */
  maxKeyLength?: number;
}
