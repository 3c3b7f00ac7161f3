/**
 * The shared tier (L2) as the engine sees it: Redis in production, an in-memory implementation
 * for unit and interleaving tests, none at all with `redis: false`. Every key here is a storage
 * key (`${keyPrefix}{${key}}`, see `toRedisKey`); an entry's lease (`…:lease`) and write version
 * (`…:ver`) are derived from it by the implementation and share its Redis Cluster hash slot.
 *
 * Rules every implementation keeps:
 * - No method throws or rejects: a command that was not sent, failed or timed out resolves to
 *   {@link FAILED}. Each command is bounded in time by the implementation (`l2Timeout`).
 * - `critical` commands (invalidations: `del`, `delPrefix`, `release`, `publish`) are sent even
 *   while a circuit breaker holds reads and writes back.
 * - Every key written has a time to live.
 */
export interface SharedTier {
  /** Whether a command sent now can reach the tier (connected; a breaker may still hold it back). */
  readonly connected: boolean;
  /**
   * `false` for a tier with neither pub/sub nor leases (Keyv stores): the engine then runs without
   * the invalidation bus and the fleet lease, and every load stores through the key's write
   * version (`getVersioned`/`putIfVersion`), whatever `lock` says. Default: true.
   */
  readonly hasBus?: boolean;
  /** The tier's circuit breaker, if it has one (reported in `stats()`, `/health` and the metrics). */
  readonly breaker?: { readonly state: 'closed' | 'open' | 'half-open'; readonly opens: number };

  /** Connects, waiting for the first connection at most `waitMs` milliseconds. Never throws. */
  connect(waitMs: number): Promise<void>;
  /** Closes what the library opened (a client passed in by the user stays open). */
  close(): Promise<void>;
  /**
   * `trouble`: the connection dropped or the breaker opened (lease waiters stop waiting);
   * `recovered`: it answers again (unconfirmed writes are retried). Returns the unsubscribe.
   */
  on(event: 'trouble' | 'recovered', listener: () => void): () => void;

  /** The stored bytes of an entry, or null when absent. */
  get(key: string): Promise<Outcome<Raw | null>>;
  /**
   * The stored bytes and the key's write version (`''` when it has none; it also covers the clear
   * marker, see {@link SharedTier.clear}). A load without a lease passes the version to
   * {@link SharedTier.putIfVersion}, so a write, delete or clear that happened meanwhile (which
   * changes the version) makes its store a no-op.
   */
  getVersioned(key: string): Promise<Outcome<{ raw: Raw | null; version: string }>>;
  /**
   * A write (`set`, `@CachePut`) made at `at` (epoch ms with microseconds, default now): stores `raw` for `ttl` ms,
   * deletes the key's lease and bumps its version, so no load in flight (with or without a lease)
   * stores over it. Dropped when a later write of the key has landed already — with `resent` (sent
   * again after the tier did not confirm it) also one from the same millisecond, whose order is
   * unknown — since it would undo it, and when a {@link SharedTier.clear} dated after `at` has
   * landed (or is under way); it still answers `true` (it is settled).
   */
  put(key: string, raw: Raw, ttl: number, at?: number, resent?: boolean): Promise<Outcome<true>>;
  /** A load's write without a lease: stores only if the version is still `version`; false if not. */
  putIfVersion(key: string, raw: Raw, ttl: number, version: string): Promise<Outcome<boolean>>;
  /**
   * Deletes entries (value and lease) and bumps their versions, so loads in flight store nothing;
   * `at` (epoch ms with microseconds, default now) is the delete's time, which a later-landing older `put` yields to.
   * Critical.
   */
  del(keys: readonly string[], at?: number): Promise<Outcome<true>>;
  /** Deletes every key starting with `prefix` (in batches; never KEYS or FLUSHDB). Critical. */
  delPrefix(prefix: string): Promise<Outcome<true>>;
  /**
   * `clear()` of a whole cache: `prefix` is `${keyPrefix}{`, `at` (epoch ms with microseconds,
   * default now) the clear's time. First records `at` in the cache's clear marker
   * ({@link clearMarkerKey}, kept for {@link CLEAR_TTL} ms; a later clear only moves it forward),
   * then deletes every entry as {@link SharedTier.delPrefix}. From then on a value write dated
   * before `at` — a `put` whose `at` is older, a `fill` whose `since` is older, a `putIfVersion`
   * whose version was read before the marker moved — is dropped, whenever it lands: during the
   * delete's batches or after them, retried by an instance that never heard of the clear.
   * Critical.
   */
  clear(prefix: string, at?: number): Promise<Outcome<true>>;

  /**
   * Takes the key's lease for `ttl` ms with `token` when it is free: `'acquired'`. When taken:
   * the holder's remaining lease in ms. With `checkValue`, `'exists'` when the value is present
   * (a holder stored it between the caller's read and this call).
   */
  acquire(key: string, token: string, ttl: number, checkValue: boolean): Promise<Outcome<'acquired' | 'exists' | number>>;
  /**
   * A read and, on a miss, a lease in one round trip (atomically): the stored bytes when the entry
   * is present; else the key's lease for `ttl` ms with `token` when it is free ({@link LEASED}),
   * or the holder's remaining lease in ms when it is taken. For a miss that will load under the
   * fleet lease: the `get` + `acquire` pair in one command.
   */
  readOrLease(key: string, token: string, ttl: number): Promise<Outcome<Raw | typeof LEASED | number>>;
  /** Extends the lease by `ttl` ms if `token` still holds it. */
  extend(key: string, token: string, ttl: number): Promise<Outcome<boolean>>;
  /**
   * If `token` still holds the lease: stores `raw` for `ttl` ms, deletes the lease and publishes
   * `message` on `channel` (atomically) — with `always` false, only when a caller was told the
   * lease was taken (by `acquire` or `readOrLease`) and may be waiting. Default `always`: true.
   * False when the lease was lost (evicted meanwhile), or when a {@link SharedTier.clear} dated
   * after `since` (the load's start, epoch ms with microseconds; default: no such check) has
   * landed or is under way (the lease is still freed and the waiters told).
   */
  fill(key: string, token: string, raw: Raw, ttl: number, channel: string, message: string, since?: number, always?: boolean): Promise<Outcome<boolean>>;
  /** Deletes the lease if `token` still holds it. Critical. */
  release(key: string, token: string): Promise<Outcome<boolean>>;

  /** Plain string markers (tag invalidation times): null where absent. */
  getMarkers(keys: readonly string[]): Promise<Outcome<(string | null)[]>>;
  /** Sets a marker for `ttl` ms. */
  setMarker(key: string, value: string, ttl: number): Promise<Outcome<true>>;

  /** Publishes on the invalidation bus. Critical. */
  publish(channel: string, message: string): Promise<Outcome<true>>;
  /**
   * Subscribes to `channel` on a connection of its own. `onGap` runs when the subscription comes
   * back after an interruption (messages may have been lost meanwhile).
   */
  subscribe(channel: string, onMessage: (message: string) => void, onGap: () => void): Subscription;

  /** Round-trip time in milliseconds; rejects when the tier does not answer. */
  ping(): Promise<number>;

  /**
   * Optional: server-assisted invalidation of every key under `prefix` that any other client
   * changes (writes, deletes, expiry, eviction, flushes), reported to `listener`. A tier that
   * cannot tell (in memory, Keyv stores) does not implement it.
   */
  track?(prefix: string, listener: TrackingListener): Tracking;
}

/** What server-assisted tracking reports. */
export interface TrackingListener {
  /** Storage keys changed by another client (any key under the prefix: leases and markers too). */
  keys(keys: readonly string[]): void;
  /** Everything may have changed: FLUSHDB/FLUSHALL, or the server dropped its tracking state. */
  flush(): void;
  /**
   * Tracking is on again after being off (a connection dropped, a new primary took over slots,
   * or it came up only after start-up): changes made meanwhile were not reported.
   */
  resumed(): void;
}

/** `on`: every change is reported; `connecting`: not yet, or not since a connection dropped; `refused`: never (the server refused). */
export type TrackingStatus = 'on' | 'connecting' | 'refused';

/** Server-assisted tracking as the engine sees it. */
export interface Tracking {
  readonly status: TrackingStatus;
  /** The server's refusal, when `status` is `refused`. */
  readonly refusal: string | undefined;
  /** Switches tracking on, waiting at most `waitMs` milliseconds for it to be on or refused. Never throws. */
  start(waitMs: number): Promise<void>;
  close(): Promise<void>;
}

/** A subscription to the invalidation bus. */
export interface Subscription {
  /** Whether messages are being received now. */
  readonly connected: boolean;
  /** Starts receiving, waiting at most `waitMs` for the subscription to be confirmed. Never throws. */
  start(waitMs: number): Promise<void>;
  close(): Promise<void>;
}

/** What the tier stores: a string (JSON) or bytes (binary serializers). */
export type Raw = string | Buffer;

/** Returned by a command that did not complete (not connected, failed or timed out). */
export const FAILED: unique symbol = Symbol('shared-tier-failed');
export type Outcome<T> = T | typeof FAILED;

/** {@link SharedTier.readOrLease}: the entry was absent and the lease is now the caller's. */
export const LEASED: unique symbol = Symbol('shared-tier-leased');

/** The lease key of an entry: same hash slot as the value. */
export function leaseKey(key: string): string {
  return `${key}:lease`;
}

/** Where an entry notes that a caller waits for its lease holder's value: same hash slot as the value. */
export function waitersKey(key: string): string {
  return `${key}:waiters`;
}

/** The write-version key of an entry: same hash slot as the value. */
export function versionKey(key: string): string {
  return `${key}:ver`;
}

/**
 * The clear marker of the cache a storage key (or a `clear()` prefix, `${keyPrefix}{`) belongs
 * to: `${keyPrefix}__clear:v1`, holding the time of the cache's latest `clear()`. Derived from
 * what precedes the first `{` — the part Redis Cluster does not hash when the prefix has no brace
 * of its own — so every key of one cache finds the same marker. On a Cluster the Redis tier keeps
 * one marker per hash slot beside it, so the scripts can read it with the entry.
 */
export function clearMarkerKey(key: string): string {
  const brace = key.indexOf('{');
  return `${brace === -1 ? key : key.slice(0, brace)}__clear:v1`;
}

/**
 * How long a clear marker lives, in milliseconds (one day): a write dated before a clear is
 * dropped while it lives. Writes retried by {@link SharedTier.put} after longer than this are
 * resent as deletes by the engine instead, so none can outlive it.
 */
export const CLEAR_TTL = 86_400_000;

/** The clear time a marker holds, epoch ms with microseconds (0 for none). */
export function clearTimeOf(marker: Raw | null | undefined): number {
  return marker == null ? 0 : Number(marker.toString()) || 0;
}

/**
 * A key's write version as {@link SharedTier.getVersioned} reports it: its `:ver` (`''` for none)
 * and, once the cache was cleared, the clear marker — so a clear changes every key's version.
 */
export function versionWithClear(version: Raw | null | undefined, marker: Raw | null | undefined): string {
  const v = version?.toString() ?? '';
  return marker == null ? v : `${v}|${marker.toString()}`;
}

/**
 * How long a key's write version lives after a write or delete, in milliseconds. A load without
 * a lease (`lock: false`) that started before a write or delete and runs longer than this may
 * store its result; any shorter load stores nothing.
 */
export const VERSION_TTL = 60_000;

/**
 * The time writes are ordered by in the shared tier (see {@link SharedTier.put}): epoch ms with
 * microseconds, so two writes of one millisecond still order.
 */
export const writeTime = (): number => performance.timeOrigin + performance.now();
