import type { EntryOptions } from '../options/entry-policy.js';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';

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
  /**
   * Size of one entry in bytes, for `maxSize`. Default: the length of its serialized form; with
   * `redis: false` (nothing is serialized) a rough estimate of its size in memory.
   */
  sizeCalculation?: (value: unknown, key: string) => number;
}

/**
 * A Redis Cluster for the library to connect to (and to close on shutdown).
 *
 * ```ts
 * redis: {
 *   cluster: [{ host: '10.0.0.1', port: 6379 }, { host: '10.0.0.2', port: 6379 }],
 *   options: { redisOptions: { password: process.env.REDIS_PASSWORD } },
 * }
 * ```
 */
export interface RedisClusterConfig {
  /**
   * Startup nodes: `{ host, port }`, a port, or `'host:port'`. One that answers is enough; the
   * rest of the topology (every primary and replica) is discovered and followed through failovers.
   */
  cluster: ClusterNode[];
  /**
   * ioredis `ClusterOptions`, laid over the library's defaults (see `redis`); `redisOptions`
   * (password, TLS, ... of each node connection) are merged the same way. Keep `scaleReads` at
   * `'master'`: a replica can miss an eviction or a lease for a moment.
   */
  options?: ClusterOptions;
}

/**
 * Options of `TieredCacheModule.forRoot()`. Every duration is in milliseconds. The entry options
 * (`ttl`, `nullTtl`, `lock`, `grace`, … see {@link EntryOptions}) are module-wide defaults that
 * service calls and decorators override.
 */
export interface TieredCacheModuleOptions extends Omit<EntryOptions, 'l1Ttl'> {
  /**
   * The shared tier, one of:
   * - a Redis URL: `'redis://127.0.0.1:6379'` (`rediss://` for TLS);
   * - ioredis `RedisOptions`: `{ host, port, password, db, tls, ... }`; with Sentinel,
   *   `{ sentinels: [{ host, port }, ...], name: 'mymaster' }` (the primary is asked of the
   *   sentinels on every reconnect, so a failover is followed by itself);
   * - a Redis Cluster: `{ cluster: [{ host, port }, ...], options?: ClusterOptions }`
   *   ({@link RedisClusterConfig});
   * - an existing ioredis `Redis` or `Cluster` instance: used as is and never closed by the
   *   library (give it `enableOfflineQueue: false` so commands fail fast while it reconnects);
   * - `false` to run L1 only.
   *
   * Clients the library creates get these defaults, which your options override:
   * `lazyConnect: true`, `enableOfflineQueue: false` (while Redis is away, calls are answered from
   * L1 and loaders instead of queueing), `enableAutoPipelining: true`, `maxRetriesPerRequest: 1`,
   * `disconnectTimeout: 200`, and a reconnect back-off of 100 ms doubling up to 2 s
   * (`retryStrategy`; `clusterRetryStrategy` for a Cluster, whose node connections get
   * `maxRetriesPerRequest` and `disconnectTimeout` through `redisOptions`, and `scaleReads: 'master'`).
   *
   * On a Cluster every command touching several keys stays in one hash slot (an entry's keys
   * share a `{hash tag}`), deletes of many keys are split per slot and `clear()` scans every
   * primary. See "Scaling out" in the README for failover behaviour.
   * @default false
   */
  redis?: string | RedisOptions | RedisClusterConfig | Redis | Cluster | false;
  /**
   * Prefix of every Redis key and channel the library writes. Two apps with different prefixes
   * never see each other's entries.
   * @default 'tiered-cache:'
   */
  keyPrefix?: string;
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
   * Server-assisted invalidation (Redis 6+ `CLIENT TRACKING`, broadcasting mode over `keyPrefix`):
   * Redis itself tells every instance when a cached key changes — written or deleted by any
   * client (another service, `redis-cli`, a script), expired, evicted under `maxmemory`, or
   * flushed — and the instance drops its L1 copy within the delivery delay (about a millisecond
   * on a LAN) instead of serving it until `l1.ttl`. Costs one more connection per Redis primary
   * and one message per change under `keyPrefix` to every instance. A server that refuses it
   * (Redis < 6, an ACL or a managed service without `CLIENT`) is reported once at bootstrap, in
   * `stats().tracking` and `/health`; the bus then invalidates as without it. Needs L1 (with
   * `l1: false` there is nothing to invalidate). With tracking on every instance, `bus: false`
   * halves the messages of a write (see the README's consistency model).
   * @default true
   */
  tracking?: boolean;
  /**
   * How long a tag invalidation is remembered, in milliseconds. An entry with tags never lives in
   * Redis longer than this, so an invalidated entry can never outlive the marker that hides it.
   * @default 86_400_000 (24 hours)
   */
  tagTtl?: number;
  /**
   * After `threshold` consecutive Redis failures or timeouts, stop sending reads and writes to
   * Redis for `openFor` milliseconds (calls go on from L1 and loaders), then let one probe
   * through. Invalidations (deletes, bus messages, lease releases) still go out, bounded by
   * `l2Timeout`, and are retried until they land. `false` disables it.
   * @default { threshold: 5, openFor: 1_000 }
   */
  breaker?: { threshold?: number; openFor?: number } | false;
  /**
   * Makes a value from the current request context part of every key — typically the tenant (or
   * locale), read from `nestjs-cls` or your own AsyncLocalStorage — so a multi-tenant app can
   * never serve one tenant's cached data to another. Called on every cache call; return
   * `undefined` outside any context (e.g. in a background job), which is a context of its own.
   * Tags are not scoped: invalidating a tag reaches every tenant's entries.
   * @example keyContext: () => cls.get('tenantId')
   */
  keyContext?: () => string | undefined;
  /**
   * Keys (with their `keyContext`) longer than this many characters are stored in Redis as their
   * head + `#` + the SHA-256 of the whole key (43 characters, base64url). The head runs up to and
   * including the last `:` among the first `maxKeyLength` characters, so a namespace prefix such
   * as `ReportsService:` (what `@CacheEvict({ allEntries: true })` deletes by) is kept whole
   * whenever it fits in `maxKeyLength`, and evictions by namespace find hashed entries too. A key
   * with no `:` there keeps its first `maxKeyLength - 44` characters. A stored name is at most
   * `maxKeyLength + 44` characters (plus `keyPrefix` and the hash-tag braces). In characters,
   * at least 1.
   * @default 256
   */
  maxKeyLength?: number;
  /**
   * Largest entry, in bytes of its serialized form (the value plus a header of a few dozen bytes),
   * that is written or read. A larger result is not cached (logged once per key, counted in
   * `serializationErrors`; the caller still gets it). Larger bytes found in Redis — which
   * anyone able to write to Redis can plant — are not decoded: counted in `l2.corrupt`, deleted,
   * and read as a miss. The default leaves room for large lists and documents while keeping a
   * planted value from stalling the event loop in a parse and allocating several times its size
   * (Redis itself allows 512 MB). Give every instance sharing a Redis the same value.
   * @default 8_388_608 (8 MiB)
   */
  maxValueBytes?: number;
}
