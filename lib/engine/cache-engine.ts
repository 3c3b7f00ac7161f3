import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { InvalidationBus } from '../bus/invalidation-bus.js';
import type { BusMessage } from '../bus/bus-message.js';
import { type Codec, type Envelope, UnserializableValueError } from '../codec/envelope.js';
import type { GetOrSetOptions, SetOptions } from '../interfaces/cache-operation-options.interface.js';
import type { CacheStatsSnapshot } from '../interfaces/cache-stats.interface.js';
import { assertKey, escapeGlob, toRedisKey } from '../keys/cache-key.util.js';
import type { L1Entry } from '../l1/memory-tier.js';
import { MemoryTier } from '../l1/memory-tier.js';
import type { OwnedClient } from '../l2/redis-connection.js';
import { FAILED, RedisTier } from '../l2/redis-tier.js';
import { FleetLease, leaseKey } from '../lease/fleet-lease.js';
import { PUT } from '../lease/lease-scripts.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { CacheStats } from '../stats/cache-stats.js';
import { TagRegistry } from '../tags/tag-registry.js';
import { snapshotOf } from './snapshot.js';
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
 * The read and write paths over both tiers: L1 → L2 → (fleet lease) → loader, one load per key
 * at a time, errors never cached, Redis trouble never failing a call, invalidations published to
 * the other instances.
 */
export class CacheEngine {
  readonly stats = new CacheStats();
  readonly instanceId = randomUUID();
  readonly l1: MemoryTier | undefined;
  readonly l2: RedisTier | undefined;
  readonly bus: InvalidationBus | undefined;
  readonly #lease: FleetLease | undefined;
  readonly #tags = new TagRegistry();
  readonly #flights = new Map<string, Flight>();
  readonly #tombstones = new Tombstones();
  readonly #logger = new Logger('TieredCache');
  readonly #warned = new Set<string>();
  /** Bumped by every eviction and overwrite; a plain `get` only back-fills L1 if it is unchanged. */
  #epoch = 0;

  constructor(
    readonly options: ResolvedOptions,
    readonly codec: Codec,
    redis: OwnedClient | undefined,
  ) {
    this.l1 = options.l1 ? new MemoryTier(options.l1) : undefined;
    if (redis === undefined) return;
    const l2 = new RedisTier(redis, codec, options.l2Timeout, this.stats);
    this.l2 = l2;
    l2.client.on('ready', () => void this.#retryTombstones());
    this.#lease = new FleetLease(l2, this.stats, options, (key, rk) => this.#readL2(key, rk));
    this.bus = new InvalidationBus(l2, options.keyPrefix, this.instanceId, this.stats, this.#onBus, this.#onBusGap);
  }

  /** Connects to Redis and the bus, waiting at most `connectTimeout`; never throws. */
  async connect(): Promise<void> {
    await this.l2?.connect(this.options.connectTimeout);
    await this.bus?.start(this.l2?.connected ? this.options.connectTimeout : 0);
  }

  /** Closes what the library opened. */
  async close(): Promise<void> {
    await this.bus?.close();
    await this.l2?.close();
  }

  redisKey(key: string): string {
    return toRedisKey(this.options.keyPrefix, key, this.options.maxKeyLength);
  }

  /** The L1 hit path, kept small: a hit costs one lru-cache lookup (and a tag check if tagged). */
  peekL1(key: string): L1Entry | undefined {
    const l1 = this.l1;
    if (l1 === undefined) return undefined;
    const e = l1.get(key);
    if (e === undefined || (e.tags !== undefined && this.#tagStale(e.tags, e.createdAt))) {
      if (e !== undefined) l1.delete(key);
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
      let token: string | undefined;
      if (this.l2) {
        const e = await this.#readL2(key, rk);
        if (e !== undefined) return this.#serveFromL2(key, e, f);
        if (this.#lease !== undefined && (policy.lock ?? this.options.lock) && this.l2.connected) {
          const outcome = await this.#lease.acquireOrWait(key, rk);
          if (outcome !== undefined && 'envelope' in outcome) return this.#serveFromL2(key, outcome.envelope, f);
          token = outcome?.token;
        }
      }
      this.stats.loads++;
      // Entries are dated from the start of their load: an invalidation (of a tag) during the
      // load then covers what it returns.
      const createdAt = Date.now();
      const start = performance.now();
      let value: unknown;
      try {
        const work = Promise.resolve().then(loader);
        value = await (token !== undefined ? this.#lease!.hold(rk, token, work) : work);
      } catch (err) {
        this.stats.loadErrors++;
        if (token !== undefined) this.#releaseLease(key, rk, token);
        throw err;
      }
      const delta = performance.now() - start;
      this.stats.recordLoad(delta);
      if (!f.superseded && !policy.unless?.(value)) {
        void this.#store(key, rk, value, policy, createdAt, delta, token);
      } else if (token !== undefined) {
        this.#releaseLease(key, rk, token);
      }
      return value;
    } finally {
      // Removed before any caller sees the result: a later call starts afresh, never reusing a
      // finished (possibly superseded) load.
      if (this.#flights.get(key) === f) this.#flights.delete(key);
    }
  }

  #serveFromL2(key: string, e: Envelope, f: Flight): unknown {
    if (!f.superseded) this.#backfill(key, e);
    return e.value;
  }

  async get<T>(key: string): Promise<T | undefined> {
    assertKey(key, 'get()');
    const hit = this.peekL1(key);
    if (hit !== undefined) return hit.value as T;
    if (!this.l2) return undefined;
    const epoch = this.#epoch;
    const e = await this.#readL2(key, this.redisKey(key));
    if (e === undefined) return undefined;
    if (epoch === this.#epoch) this.#backfill(key, e);
    return e.value as T;
  }

  async set(key: string, value: unknown, options: WritePolicy = {}): Promise<void> {
    assertKey(key, 'set()');
    this.#supersede(key);
    this.stats.sets++;
    const rk = this.l2 ? this.redisKey(key) : '';
    await this.#store(key, rk, value, options, Date.now(), 0, undefined);
    if (this.options.bus) this.bus?.publish('set', [key]);
  }

  /**
   * Writes L1 now and Redis after: through the lease when the load holds one (a write that an
   * eviction made stale is dropped), else as a plain write that frees any lease on the key.
   */
  async #store(
    key: string,
    rk: string,
    value: unknown,
    policy: WritePolicy,
    createdAt: number,
    delta: number,
    token: string | undefined,
  ): Promise<void> {
    const o = this.options;
    let ttl = policy.ttl ?? o.ttl;
    if (value === null || value === undefined) ttl = Math.min(ttl, policy.nullTtl ?? o.nullTtl);
    const tags = policy.tags !== undefined && policy.tags.length > 0 ? policy.tags : undefined;
    if (tags !== undefined) ttl = Math.min(ttl, o.tagTtl);
    if (ttl <= 0) {
      if (token !== undefined) this.#releaseLease(key, rk, token);
      return;
    }
    const expiresAt = Date.now() + ttl;
    let raw: string | Buffer | undefined;
    if (this.l2 || (o.l1 && o.l1.maxSize !== undefined)) {
      try {
        raw = this.codec.encode({ value, createdAt, expiresAt, delta, tags });
      } catch (err) {
        if (!(err instanceof UnserializableValueError)) throw err;
        this.stats.serializationErrors++;
        this.warnOnce(`serialize:${key}`, `Not cached: the value of "${key}" cannot be serialized (${err.message}).`);
        if (token !== undefined) this.#releaseLease(key, rk, token);
        return;
      }
    }
    let entry: L1Entry | undefined;
    if (this.l1) {
      // Without Redis, L1 is the only tier and keeps the entry for its whole TTL.
      const l1Ttl = this.l2 ? (policy.l1Ttl ?? (o.l1 as { ttl: number }).ttl) : (policy.l1Ttl ?? ttl);
      entry = { value, createdAt, expiresAt, size: raw?.length ?? 0, tags };
      this.l1.set(key, entry, Math.min(l1Ttl, ttl));
    }
    if (!this.l2 || raw === undefined) return;
    if (token === undefined) {
      await this.l2.script(PUT, [rk, leaseKey(rk)], [raw, Math.max(1, Math.ceil(ttl))]);
      return;
    }
    const message = JSON.stringify({ i: this.instanceId, o: 'fill', k: [key] } satisfies BusMessage);
    const stored = await this.#lease!.fill(rk, token, raw, ttl, this.bus!.channel, message);
    if (stored === false) {
      // Evicted elsewhere while loading: the value is stale, keep it nowhere.
      this.stats.leaseLost++;
      if (entry !== undefined && this.l1?.get(key) === entry) this.l1.delete(key);
    }
  }

  #releaseLease(key: string, rk: string, token: string): void {
    void this.#lease!.release(rk, token).then(() => this.bus?.publish('release', [key]));
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
    const rks = list.flatMap((k) => {
      const rk = this.redisKey(k);
      return [rk, leaseKey(rk)];
    });
    const at = Date.now();
    // Until Redis confirms the delete, this instance ignores what Redis holds for these keys.
    for (const rk of rks) this.#tombstones.add(rk, at);
    if ((await this.l2.del(rks)) !== FAILED) for (const rk of rks) this.#tombstones.remove(rk, at);
    if (this.options.bus) this.bus?.publish('del', list);
  }

  /** Evicts every entry whose key starts with `namespace + ':'` (default keys of one class). */
  async deleteNamespace(namespace: string): Promise<void> {
    const prefix = `${namespace}:`;
    this.#dropLocal((k) => k.startsWith(prefix));
    if (!this.l2) return;
    await this.#deleteL2Matching(`${this.options.keyPrefix}{${prefix}`);
    if (this.options.bus) this.bus?.publish('ns', [prefix]);
  }

  /** Drops every entry under this cache's prefix, in both tiers, on every instance. */
  async clear(): Promise<void> {
    this.#dropLocal(() => true);
    if (!this.l2) return;
    await this.#deleteL2Matching(`${this.options.keyPrefix}{`);
    if (this.options.bus) this.bus?.publish('clear');
  }

  /**
   * Invalidates every entry carrying one of `tags`, in both tiers and on every instance, in O(1)
   * per tag: a timestamp per tag, checked when an entry is read.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    for (const t of tags) assertKey(t, 'invalidateTags()');
    const at = Date.now();
    for (const t of tags) this.#tags.set(t, at);
    this.#epoch++;
    this.stats.tagInvalidations += tags.length;
    if (!this.l2) return;
    await Promise.all(
      tags.map((t) => this.l2!.exec((c) => c.set(this.#tagKey(t), at, 'PX', this.options.tagTtl))),
    );
    if (this.options.bus) this.bus?.publish('tags', tags, at);
  }

  async #deleteL2Matching(prefix: string): Promise<void> {
    const at = Date.now();
    this.#tombstones.addPattern(prefix, at);
    if ((await this.l2!.deleteMatching(`${escapeGlob(prefix)}*`)) !== FAILED) this.#tombstones.removePattern(prefix, at);
  }

  #dropLocal(match: (key: string) => boolean): void {
    this.#epoch++;
    for (const [k, f] of this.#flights) if (match(k)) this.#drop(k, f);
    if (this.l1 === undefined) return;
    if (match('')) this.l1.clear();
    else this.l1.deleteWhere(match);
  }

  async #readL2(key: string, rk: string): Promise<Envelope | undefined> {
    const e = await this.l2!.get(rk);
    if (e === FAILED || e === undefined || e.expiresAt <= Date.now() || this.#tombstones.hides(rk, e.createdAt)) {
      this.stats.l2Misses++;
      return undefined;
    }
    if (e.tags !== undefined && (await this.#tagStaleInL2(e.tags, e.createdAt))) {
      this.stats.l2Misses++;
      return undefined;
    }
    this.stats.l2Hits++;
    return e;
  }

  #tagKey(tag: string): string {
    return `${this.options.keyPrefix}__tag:{${tag}}`;
  }

  #tagStale(tags: readonly string[], createdAt: number): boolean {
    const stale = this.#tags.isStale(tags, createdAt);
    return stale === undefined ? !this.#tags.trustsUnknown(createdAt) : stale;
  }

  /** Tag check for an entry read from Redis: fetches the tags this instance does not know yet. */
  async #tagStaleInL2(tags: readonly string[], createdAt: number): Promise<boolean> {
    const unknown = this.#tags.unknown(tags);
    if (unknown !== undefined) {
      const ats = await Promise.all(unknown.map((t) => this.l2!.exec((c) => c.get(this.#tagKey(t)))));
      // A tag that cannot be checked makes the entry a miss: never serve what may be invalidated.
      if (ats.includes(FAILED)) return true;
      unknown.forEach((t, i) => this.#tags.set(t, Number(ats[i] ?? 0)));
    }
    return this.#tags.isStale(tags, createdAt) !== false;
  }

  #backfill(key: string, e: Envelope): void {
    const l1 = this.l1;
    if (!l1) return;
    const remaining = e.expiresAt - Date.now();
    if (remaining <= 0) return;
    const entry: L1Entry = { value: e.value, createdAt: e.createdAt, expiresAt: e.expiresAt, size: 0, tags: e.tags };
    l1.set(key, entry, Math.min((this.options.l1 as { ttl: number }).ttl, remaining));
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

  readonly #onBus = (m: BusMessage): void => {
    const keys = m.k ?? [];
    switch (m.o) {
      case 'set':
      case 'del':
        for (const k of keys) {
          this.#supersede(k);
          this.l1?.delete(k);
        }
        break;
      case 'fill':
        for (const k of keys) this.l1?.delete(k);
        break;
      case 'ns':
        if (keys[0] !== undefined) this.#dropLocal((k) => k.startsWith(keys[0]!));
        break;
      case 'clear':
        this.#dropLocal(() => true);
        break;
      case 'tags':
        this.#epoch++;
        for (const t of keys) this.#tags.set(t, m.t ?? Date.now());
        break;
    }
    for (const k of keys) this.#lease?.wake(k);
  };

  readonly #onBusGap = (): void => {
    this.stats.busGaps++;
    this.#epoch++;
    this.l1?.clear();
    this.#tags.clear();
  };

  async #retryTombstones(): Promise<void> {
    for (const [rk, at] of this.#tombstones.keys()) {
      if ((await this.l2!.del([rk])) !== FAILED) this.#tombstones.remove(rk, at);
    }
    for (const [prefix, at] of this.#tombstones.patterns()) {
      if ((await this.l2!.deleteMatching(`${escapeGlob(prefix)}*`)) !== FAILED) this.#tombstones.removePattern(prefix, at);
    }
  }

  warnOnce(id: string, message: string): void {
    if (this.#warned.has(id)) return;
    if (this.#warned.size > 1_000) this.#warned.clear();
    this.#warned.add(id);
    this.#logger.warn(message);
  }

  snapshot(): CacheStatsSnapshot {
    return snapshotOf(this);
  }
}
