import { Logger } from '@nestjs/common';
import { type Codec, UnserializableValueError } from '../codec/envelope.js';
import type { CacheStatsSnapshot } from '../interfaces/cache-stats.interface.js';
import type { GetOrSetOptions, SetOptions } from '../interfaces/cache-operation-options.interface.js';
import { assertKey, escapeGlob, toRedisKey } from '../keys/cache-key.util.js';
import { MemoryTier } from '../l1/memory-tier.js';
import type { OwnedClient } from '../l2/redis-connection.js';
import { FAILED, RedisTier } from '../l2/redis-tier.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { CacheStats, LOAD_BUCKETS_MS } from '../stats/cache-stats.js';
import { Tombstones } from './tombstones.js';

/** A load in flight for one key in this process; every caller of that key shares `promise`. */
interface Flight {
  promise: Promise<unknown>;
  /** Set when the key is evicted or overwritten during the load: its result must not be stored. */
  superseded: boolean;
}

/** Per-write policy: durations in milliseconds, `unless` vetoes storing a result. */
export interface WritePolicy extends GetOrSetOptions {
  unless?: (result: any) => boolean;
}

/**
 * The read and write paths over both tiers: L1 → L2 → loader, one load per key at a time in this
 * process, errors never cached, Redis trouble never failing a call.
 */
export class CacheEngine {
  readonly stats = new CacheStats();
  readonly l1: MemoryTier | undefined;
  readonly #flights = new Map<string, Flight>();
  readonly #tombstones = new Tombstones();
  readonly #logger = new Logger('TieredCache');
  readonly #warned = new Set<string>();
  /** Bumped by every eviction and overwrite; a plain `get` only back-fills L1 if it is unchanged. */
  #epoch = 0;

  readonly l2: RedisTier | undefined;

  constructor(
    readonly options: ResolvedOptions,
    readonly codec: Codec,
    redis: OwnedClient | undefined,
  ) {
    this.l1 = options.l1 ? new MemoryTier(options.l1) : undefined;
    this.l2 = redis ? new RedisTier(redis, codec, options.l2Timeout, this.stats) : undefined;
    this.l2?.client.on('ready', () => void this.#retryTombstones());
  }

  /** Closes what the library opened. */
  async close(): Promise<void> {
    await this.l2?.close();
  }

  redisKey(key: string): string {
    return toRedisKey(this.options.keyPrefix, key, this.options.maxKeyLength);
  }

  /** The L1 hit path, kept small: a hit costs one lru-cache lookup. */
  peekL1(key: string): { value: unknown } | undefined {
    const l1 = this.l1;
    if (l1 === undefined) return undefined;
    const e = l1.get(key);
    if (e === undefined) {
      this.stats.l1Misses++;
      return undefined;
    }
    this.stats.l1Hits++;
    return e;
  }

  getOrSet<T>(key: string, loader: () => T | Promise<T>, policy: WritePolicy = {}): Promise<T> {
    const hit = this.peekL1(key);
    if (hit !== undefined) return Promise.resolve(hit.value as T);
    return this.loadThrough(key, loader, policy) as Promise<T>;
  }

  /** After an L1 miss: join the key's flight, or start one that reads L2 and then loads. */
  loadThrough(key: string, loader: () => unknown, policy: WritePolicy): Promise<unknown> {
    const flight = this.#flights.get(key);
    if (flight !== undefined) {
      this.stats.coalesced++;
      return flight.promise;
    }
    const f: Flight = { promise: undefined as unknown as Promise<unknown>, superseded: false };
    this.#flights.set(key, f);
    f.promise = this.#fly(key, loader, policy, f);
    return f.promise;
  }

  async #fly(key: string, loader: () => unknown, policy: WritePolicy, f: Flight): Promise<unknown> {
    try {
      const rk = this.l2 ? this.redisKey(key) : '';
      if (this.l2) {
        const e = await this.#readL2(rk);
        if (e !== undefined) {
          if (!f.superseded) this.#backfill(key, e.value, e.expiresAt);
          return e.value;
        }
      }
      this.stats.loads++;
      const start = performance.now();
      let value: unknown;
      try {
        value = await loader();
      } catch (err) {
        this.stats.loadErrors++;
        throw err;
      }
      const delta = performance.now() - start;
      this.stats.recordLoad(delta);
      if (!f.superseded && !policy.unless?.(value)) this.#store(key, rk, value, policy, delta, false);
      return value;
    } finally {
      // Removed before any caller sees the result: a later call starts afresh, never reusing a
      // finished (possibly superseded) load.
      if (this.#flights.get(key) === f) this.#flights.delete(key);
    }
  }

  async get<T>(key: string): Promise<T | undefined> {
    assertKey(key, 'get()');
    const hit = this.peekL1(key);
    if (hit !== undefined) return hit.value as T;
    if (!this.l2) return undefined;
    const epoch = this.#epoch;
    const e = await this.#readL2(this.redisKey(key));
    if (e === undefined) return undefined;
    if (epoch === this.#epoch) this.#backfill(key, e.value, e.expiresAt);
    return e.value as T;
  }

  async set(key: string, value: unknown, options: SetOptions = {}): Promise<void> {
    assertKey(key, 'set()');
    this.#supersede(key);
    const rk = this.l2 ? this.redisKey(key) : '';
    this.stats.sets++;
    await this.#store(key, rk, value, options, 0, true);
  }

  /** Writes L1 now and L2 in the background (awaited only when `awaitL2`). */
  #store(
    key: string,
    rk: string,
    value: unknown,
    policy: WritePolicy,
    delta: number,
    awaitL2: boolean,
  ): Promise<unknown> | undefined {
    const o = this.options;
    let ttl = policy.ttl ?? o.ttl;
    if (value === null || value === undefined) ttl = Math.min(ttl, policy.nullTtl ?? o.nullTtl);
    if (ttl <= 0) return undefined;
    const now = Date.now();
    const expiresAt = now + ttl;
    let raw: string | Buffer | undefined;
    if (this.l2 || o.l1 && o.l1.maxSize !== undefined) {
      try {
        raw = this.codec.encode({ value, createdAt: now, expiresAt, delta });
      } catch (err) {
        if (!(err instanceof UnserializableValueError)) throw err;
        this.stats.serializationErrors++;
        this.#warnOnce(`serialize:${key}`, `Not cached: the value of "${key}" cannot be serialized (${err.message}).`);
        return undefined;
      }
    }
    if (this.l1) {
      // Without Redis, L1 is the only tier and keeps the entry for its whole TTL.
      const l1Ttl = this.l2 ? Math.min(policy.l1Ttl ?? (o.l1 as { ttl: number }).ttl, ttl) : (policy.l1Ttl ?? ttl);
      this.l1.set(key, { value, expiresAt, size: raw?.length ?? 0 }, Math.min(l1Ttl, ttl));
    }
    if (this.l2 && raw !== undefined) {
      const write = this.l2.set(rk, raw, ttl);
      return awaitL2 ? write : undefined;
    }
    return undefined;
  }

  async del(keys: string | readonly string[]): Promise<void> {
    const list = typeof keys === 'string' ? [keys] : keys;
    for (const k of list) assertKey(k, 'del()');
    for (const k of list) {
      this.#supersede(k);
      this.l1?.delete(k);
    }
    this.stats.deletes += list.length;
    if (!this.l2) return;
    const rks = list.map((k) => this.redisKey(k));
    const at = Date.now();
    // Until Redis confirms the delete, this instance ignores what Redis holds for these keys.
    for (const rk of rks) this.#tombstones.add(rk, at);
    if ((await this.l2.del(rks)) !== FAILED) for (const rk of rks) this.#tombstones.remove(rk, at);
  }

  /** Evicts every entry whose key starts with `namespace + ':'` (default keys of one class). */
  async deleteNamespace(namespace: string): Promise<void> {
    const prefix = `${namespace}:`;
    this.#epoch++;
    for (const [k, f] of this.#flights) if (k.startsWith(prefix)) this.#drop(k, f);
    this.l1?.deleteWhere((k) => k.startsWith(prefix));
    if (!this.l2) return;
    const at = Date.now();
    const pattern = `${escapeGlob(this.options.keyPrefix)}{${escapeGlob(prefix)}*`;
    this.#tombstones.addPattern(this.redisKey(prefix).slice(0, -1), at);
    if ((await this.l2.deleteMatching(pattern)) !== FAILED) this.#tombstones.removePattern(this.redisKey(prefix).slice(0, -1), at);
  }

  /** Drops every entry under this cache's prefix, in both tiers. */
  async clear(): Promise<void> {
    this.#epoch++;
    for (const [k, f] of this.#flights) this.#drop(k, f);
    this.l1?.clear();
    if (!this.l2) return;
    const at = Date.now();
    const prefix = `${this.options.keyPrefix}{`;
    this.#tombstones.addPattern(prefix, at);
    if ((await this.l2.deleteMatching(`${escapeGlob(prefix)}*`)) !== FAILED) this.#tombstones.removePattern(prefix, at);
  }

  async #readL2(rk: string) {
    const e = await this.l2!.get(rk);
    if (e === FAILED || e === undefined) {
      this.stats.l2Misses++;
      return undefined;
    }
    if (e.expiresAt <= Date.now() || this.#tombstones.hides(rk, e.createdAt)) {
      this.stats.l2Misses++;
      return undefined;
    }
    this.stats.l2Hits++;
    return e;
  }

  #backfill(key: string, value: unknown, expiresAt: number): void {
    const l1 = this.l1;
    if (!l1) return;
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) return;
    l1.set(key, { value, expiresAt, size: 0 }, Math.min((this.options.l1 as { ttl: number }).ttl, remaining));
  }

  #supersede(key: string): void {
    this.#epoch++;
    const f = this.#flights.get(key);
    if (f !== undefined) this.#drop(key, f);
  }

  #drop(key: string, f: Flight): void {
    f.superseded = true;
    this.#flights.delete(key);
  }

  async #retryTombstones(): Promise<void> {
    for (const [rk, at] of this.#tombstones.keys()) {
      if ((await this.l2!.del([rk])) !== FAILED) this.#tombstones.remove(rk, at);
    }
    for (const [prefix, at] of this.#tombstones.patterns()) {
      if ((await this.l2!.deleteMatching(`${escapeGlob(prefix)}*`)) !== FAILED) this.#tombstones.removePattern(prefix, at);
    }
  }

  #warnOnce(id: string, message: string): void {
    if (this.#warned.has(id)) return;
    if (this.#warned.size > 1_000) this.#warned.clear();
    this.#warned.add(id);
    this.#logger.warn(message);
  }

  warnOnce(id: string, message: string): void {
    this.#warnOnce(id, message);
  }

  snapshot(): CacheStatsSnapshot {
    const s = this.stats;
    const l2 = this.l2;
    return {
      l1: {
        enabled: this.l1 !== undefined,
        hits: s.l1Hits,
        misses: s.l1Misses,
        entries: this.l1?.size ?? 0,
        bytes: this.l1?.bytes ?? 0,
      },
      l2: {
        enabled: l2 !== undefined,
        connected: l2?.connected ?? false,
        hits: s.l2Hits,
        misses: s.l2Misses,
        errors: s.l2Errors,
        timeouts: s.l2Timeouts,
        skipped: s.l2Skipped,
        corrupt: s.corrupt,
      },
      loads: {
        calls: s.loads,
        errors: s.loadErrors,
        coalesced: s.coalesced,
        durationMsSum: s.loadMsSum,
        durationHistogram: { boundsMs: LOAD_BUCKETS_MS, counts: [...s.loadBuckets] },
      },
      serializationErrors: s.serializationErrors,
      sets: s.sets,
      deletes: s.deletes,
      degraded: l2 !== undefined && !l2.connected,
    };
  }
}
