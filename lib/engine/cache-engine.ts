import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { InvalidationBus } from '../bus/invalidation-bus.js';
import type { BusMessage } from '../bus/bus-message.js';
import { type Codec, type Envelope, UnserializableValueError } from '../codec/envelope.js';
import type { CacheEntryInfo, GetOrSetOptions } from '../interfaces/cache-operation-options.interface.js';
import type { CacheObserver, ReadOutcome } from '../interfaces/cache-observer.interface.js';
import type { CacheStatsSnapshot } from '../interfaces/cache-stats.interface.js';
import { assertKey, toRedisKey } from '../keys/cache-key.util.js';
import { createKeyScope } from '../keys/key-scope.util.js';
import { type L1Entry, l1Entry, MemoryTier } from '../l1/memory-tier.js';
import type { OwnedClient } from '../l2/redis-connection.js';
import { FAILED, type Outcome, RedisTier } from '../l2/redis-tier.js';
import { FleetLease, leaseKey } from '../lease/fleet-lease.js';
import { LEASE_SCRIPTS, PUT } from '../lease/lease-scripts.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { CacheStats } from '../stats/cache-stats.js';
import { TagIndex } from '../tags/tag-index.js';
import { earlyRefreshWindowStart, shouldRefreshEarly } from '../resilience/early-refresh.js';
import { LoaderTimeoutError, raceTimeout, TIMED_OUT } from '../resilience/timeouts.js';
import { LRUCache } from 'lru-cache';
import { snapshotOf } from './snapshot.js';
import { RedisDeletes } from './redis-deletes.js';

/** What a background refresh resolves to when it stored nothing (failed, or another instance refreshes). */
const NO_REFRESH: unique symbol = Symbol('no-refresh');

/** A load in flight for one key in this process; every caller of that key shares `promise`. */
interface Flight {
  promise: Promise<unknown>;
  /** Redis did not answer the read: do not wait on a lease it cannot grant either. */
  l2Failed?: boolean;
  /** How the flight answered, for tracing. */
  outcome?: ReadOutcome;
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
  readonly #tags: TagIndex;
  readonly #flights = new Map<string, Flight>();
  /** Background refreshes (grace, early refresh), one per key; superseded like flights. */
  readonly #refreshes = new Map<string, Flight>();
  /** Keys whose last refresh failed: their stale value is served without retrying until this expires. */
  readonly #backoff = new LRUCache<string, true>({ max: 10_000 });
  /** Deletes Redis has not confirmed yet, retried until it does (undefined without Redis). */
  readonly #deletes: RedisDeletes | undefined;
  readonly #logger = new Logger('TieredCache');
  readonly #warned = new Set<string>();
  /** Bumped by every eviction and overwrite; a plain `get` only back-fills L1 if it is unchanged. */
  #epoch = 0;
  /** Tracing hook (`nestjs-tiered-cache/opentelemetry`); undefined costs one check per read. */
  observer: CacheObserver | undefined;

  constructor(
    readonly options: ResolvedOptions,
    readonly codec: Codec,
    redis: OwnedClient | undefined,
  ) {
    this.l1 = options.l1 ? new MemoryTier(options.l1) : undefined;
    if (redis === undefined) {
      this.#tags = new TagIndex(undefined, options.keyPrefix, options.tagTtl);
      return;
    }
    const l2 = new RedisTier(redis, codec, options.l2Timeout, this.stats, options.breaker);
    this.l2 = l2;
    this.#tags = new TagIndex(l2, options.keyPrefix, options.tagTtl);
    l2.client.on('ready', () => void l2.loadScripts(LEASE_SCRIPTS()));
    // Redis is back (connection ready, or the breaker closed): redo the invalidations that failed.
    l2.on('recovered', () => void this.#deletes!.retry());
    this.#lease = new FleetLease(l2, this.stats, options, (key, rk) => this.#readL2(key, rk));
    this.bus = new InvalidationBus(l2, options.keyPrefix, this.instanceId, this.stats, this.#onBus, this.#onBusGap);
    this.#deletes = new RedisDeletes(l2, this.bus, options);
    // Redis in trouble: nobody waits for a lease holder whose result may never be announced.
    l2.on('trouble', () => this.#lease?.wakeAll());
  }

  /** Connects to Redis and the bus, waiting at most `connectTimeout`; never throws. */
  async connect(): Promise<void> {
    await this.l2?.connect(this.options.connectTimeout);
    if (this.l2?.connected) await this.l2.loadScripts(LEASE_SCRIPTS());
    await this.bus?.start(this.l2?.connected ? this.options.connectTimeout : 0);
  }

  /** Closes what the library opened. */
  async close(): Promise<void> {
    this.#deletes?.close();
    await this.bus?.close();
    await this.l2?.close();
  }

  /** The key as stored: with `keyContext`, under the context's own form (see `createKeyScope`). */
  readonly scope: (key: string) => string = createKeyScope(this.options.keyContext);

  redisKey(key: string): string {
    return toRedisKey(this.options.keyPrefix, key, this.options.maxKeyLength);
  }

  /**
   * The L1 hit path, kept small: a fresh hit costs one lru-cache lookup (plus a tag check if
   * tagged, a clock read if it has a grace period). A stale entry in its grace period is left
   * for `loadThrough`, which serves it while refreshing.
   */
  peekL1(key: string): L1Entry | undefined {
    const l1 = this.l1;
    if (l1 === undefined) return undefined;
    const e = l1.get(key);
    if (
      e === undefined ||
      (e.tags !== undefined && this.#tags.staleInL1(e)) ||
      (e.staleUntil !== e.expiresAt && Date.now() >= e.expiresAt)
    ) {
      if (e !== undefined && e.staleUntil === e.expiresAt) l1.delete(key);
      this.stats.l1Misses++;
      return undefined;
    }
    this.stats.l1Hits++;
    return e;
  }

  getOrSet<T>(key: string, loader: () => T | Promise<T>, policy: WritePolicy = {}): Promise<T> {
    if (this.observer !== undefined) return this.#observedGetOrSet(key, loader, policy, this.observer) as Promise<T>;
    const hit = this.peekL1(key);
    if (hit !== undefined) return Promise.resolve(hit.value as T);
    return this.loadThrough(key, loader, policy) as Promise<T>;
  }

  /** `getOrSet` with a scope around the read and one around the loader, if it runs. */
  #observedGetOrSet(key: string, loader: () => unknown, policy: WritePolicy, observer: CacheObserver): Promise<unknown> {
    const scope = observer.read(key);
    const hit = this.peekL1(key);
    if (hit !== undefined) {
      scope.end(undefined, 'l1');
      return Promise.resolve(hit.value);
    }
    const joined = this.#flights.has(key);
    const traced = () => {
      const load = observer.load(key);
      return load.run(() => Promise.resolve().then(loader)).then(
        (v) => (load.end(), v),
        (err) => {
          load.end(err);
          throw err;
        },
      );
    };
    const result = scope.run(() => this.loadThrough(key, traced, policy));
    const f = this.#flights.get(key);
    return result.then(
      (v) => (scope.end(undefined, joined ? 'coalesced' : (f?.outcome ?? 'l2')), v),
      (err) => {
        scope.end(err, joined ? 'coalesced' : f?.outcome);
        throw err;
      },
    );
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
    const stale = this.#staleInL1(key);
    if (this.l2 === undefined || stale !== undefined) {
      f.promise = this.#afterL2(key, '', stale, loader, policy, f);
      return f.promise;
    }
    // The L2 hit path runs inside the tier's one promise step past Redis's reply.
    const rk = this.redisKey(key);
    f.promise = this.l2.read(rk, (raw) => {
      if (raw === FAILED) f.l2Failed = true;
      const e = this.#accept(rk, raw, true);
      return e instanceof Promise
        ? e.then((checked) => this.#afterRead(key, rk, checked, loader, policy, f))
        : this.#afterRead(key, rk, e, loader, policy, f);
    });
    return f.promise;
  }

  /** A fresh entry is served (maybe refreshed early); otherwise the slow path takes over. */
  #afterRead(key: string, rk: string, e: Envelope | undefined, loader: () => unknown, policy: WritePolicy, f: Flight): unknown {
    if (e !== undefined && e.expiresAt > Date.now()) {
      f.outcome = 'l2';
      this.#endFlight(key, f);
      this.#maybeRefreshEarly(key, rk, e, loader, policy);
      return this.#serveFromL2(key, e, f);
    }
    if (e !== undefined && !f.superseded) this.#backfill(key, e);
    return this.#afterL2(key, rk, e, loader, policy, f);
  }

  /** Removes a finished flight before any caller sees its result: a later call starts afresh. */
  #endFlight(key: string, f: Flight): void {
    if (this.#flights.get(key) === f) this.#flights.delete(key);
  }

  /** XFetch on a fresh read from Redis: sometimes start a background refresh before expiry. */
  #maybeRefreshEarly(key: string, rk: string, e: Envelope, loader: () => unknown, policy: WritePolicy): void {
    if (e.delta <= 0) return;
    const beta = policy.earlyRefresh ?? this.options.earlyRefresh;
    if (beta !== false && shouldRefreshEarly(Date.now(), e.expiresAt, e.delta, beta)) {
      this.stats.earlyRefreshes++;
      void this.#refresh(key, rk, loader, policy, e.createdAt);
    }
  }

  /** No fresh value: serve a stale one while refreshing, join a running refresh, or load. */
  async #afterL2(
    key: string,
    rk: string,
    stale: { value: unknown; createdAt: number } | undefined,
    loader: () => unknown,
    policy: WritePolicy,
    f: Flight,
  ): Promise<unknown> {
    try {
      if (stale !== undefined) {
        f.outcome = 'stale';
        return await this.#serveStale(key, rk, stale, loader, policy);
      }
      // An early refresh may still be running when its entry expires: its result is the load.
      const refreshing = this.#refreshes.get(key);
      if (refreshing !== undefined) {
        const fresh = await refreshing.promise;
        if (fresh !== NO_REFRESH) return fresh;
      }
      const hard = policy.hardTimeout ?? this.options.hardTimeout;
      const work = this.#loadForeground(key, rk, loader, policy, f);
      const outcome = await raceTimeout(work, hard);
      if (outcome !== TIMED_OUT) return outcome;
      this.stats.hardTimeouts++;
      work.catch(() => undefined);
      throw new LoaderTimeoutError(key, hard);
    } finally {
      this.#endFlight(key, f);
    }
  }

  /** A stale L1 entry still in its grace period. */
  #staleInL1(key: string): L1Entry | undefined {
    const e = this.l1?.get(key);
    if (e === undefined || e.staleUntil === e.expiresAt || e.staleUntil <= Date.now()) return undefined;
    if (e.tags !== undefined && this.#tags.staleInL1(e)) return undefined;
    return e;
  }

  /**
   * Grace period: the stale value now (or after `softTimeout` if the refresh is not done by
   * then), one refresh in the background; after a failed refresh, none for `graceBackoff`.
   */
  async #serveStale(key: string, rk: string, stale: { value: unknown; createdAt: number }, loader: () => unknown, policy: WritePolicy): Promise<unknown> {
    const value = stale.value;
    this.stats.staleServed++;
    if (this.#backoff.has(key)) return value;
    const refresh = this.#refresh(key, rk, loader, policy, stale.createdAt);
    const soft = policy.softTimeout ?? this.options.softTimeout;
    if (soft > 0) {
      const fresh = await raceTimeout(refresh, soft);
      if (fresh !== TIMED_OUT && fresh !== NO_REFRESH) return fresh;
      if (fresh === TIMED_OUT) this.stats.softTimeouts++;
    }
    return value;
  }

  /**
   * One background refresh per key: takes the lease if it is free (if another instance holds it,
   * that instance is refreshing), loads and stores. Never rejects: a failure starts the backoff.
   */
  #refresh(key: string, rk: string, loader: () => unknown, policy: WritePolicy, seenCreatedAt: number): Promise<unknown> {
    const running = this.#refreshes.get(key);
    if (running !== undefined) return running.promise;
    const f: Flight = { promise: undefined as unknown as Promise<unknown>, superseded: false };
    this.#refreshes.set(key, f);
    f.promise = (async () => {
      try {
        let token: string | undefined;
        if (this.#lease !== undefined && (policy.lock ?? this.options.lock) && this.l2!.connected) {
          const t = await this.#lease.tryAcquire(rk);
          if (t === null) return NO_REFRESH;
          token = t;
          // Another instance may have refreshed it between our read and the lease: use that.
          const current = t === undefined ? undefined : await this.#readL2(key, rk);
          if (current !== undefined && current.createdAt > seenCreatedAt) {
            this.#releaseLease(key, rk, t!);
            return current.value;
          }
        }
        this.stats.refreshes++;
        return await this.#load(key, rk, loader, policy, f, token);
      } catch {
        this.stats.refreshErrors++;
        const backoff = policy.graceBackoff ?? this.options.graceBackoff;
        if (backoff > 0) this.#backoff.set(key, true, { ttl: backoff });
        return NO_REFRESH;
      } finally {
        if (this.#refreshes.get(key) === f) this.#refreshes.delete(key);
      }
    })();
    return f.promise;
  }

  /** No value to serve: wait for the fleet lease (or the holder's result), then load. */
  async #loadForeground(key: string, rk: string, loader: () => unknown, policy: WritePolicy, f: Flight): Promise<unknown> {
    let token: string | undefined;
    if (this.#lease !== undefined && (policy.lock ?? this.options.lock) && this.l2!.connected && !f.l2Failed) {
      const outcome = await this.#lease.acquireOrWait(key, rk);
      if (outcome !== undefined && 'envelope' in outcome) {
        f.outcome = 'fleet';
        return this.#serveFromL2(key, outcome.envelope, f);
      }
      token = outcome?.token;
    }
    return this.#load(key, rk, loader, policy, f, token);
  }

  /** Runs the loader (holding the lease if given) and stores its result unless superseded. */
  async #load(key: string, rk: string, loader: () => unknown, policy: WritePolicy, f: Flight, token: string | undefined): Promise<unknown> {
    this.stats.loads++;
    f.outcome ??= 'load';
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
      this.stats.recordLoad(performance.now() - start);
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

  /** A fresh entry with its times (L1, else Redis, back-filling L1), or undefined. */
  async peek(key: string): Promise<CacheEntryInfo | undefined> {
    assertKey(key, 'peek()');
    const hit = this.peekL1(key);
    const e = hit ?? (this.l2 ? await this.#readL2(key, this.redisKey(key)) : undefined);
    if (e === undefined) return undefined;
    if (hit === undefined) this.#backfill(key, e);
    return { value: e.value, createdAt: e.createdAt, expiresAt: e.expiresAt, staleUntil: e.staleUntil };
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
    if (o.jitter > 0) ttl = Math.max(1, Math.round(ttl * (1 - o.jitter * Math.random())));
    const grace = ttl > 0 ? (policy.grace ?? o.grace) : 0;
    const tags = policy.tags !== undefined && policy.tags.length > 0 ? policy.tags : undefined;
    if (tags !== undefined && ttl + grace > o.tagTtl) ttl = Math.max(0, o.tagTtl - grace);
    if (ttl <= 0) {
      if (token !== undefined) this.#releaseLease(key, rk, token);
      return;
    }
    const now = Date.now();
    const expiresAt = now + ttl;
    const staleUntil = expiresAt + grace;
    let raw: string | Buffer | undefined;
    if (this.l2 || (o.l1 && o.l1.maxSize !== undefined)) {
      try {
        raw = this.codec.encode({ value, createdAt, expiresAt, staleUntil, delta, tags });
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
      entry = l1Entry(value, createdAt, expiresAt, staleUntil, delta, raw?.length ?? 0, tags);
      // Without Redis, L1 is the only tier and keeps the entry for its whole life.
      const l1Ttl = this.l2 ? this.#l1TtlFor(entry, now, policy.l1Ttl) : Math.min(policy.l1Ttl ?? Infinity, staleUntil - now);
      if (l1Ttl > 0) this.l1.set(key, entry, l1Ttl);
    }
    if (!this.l2 || raw === undefined) return;
    ttl += grace;
    if (token === undefined) {
      await this.l2.script(PUT, [rk, leaseKey(rk)], [raw, Math.max(1, Math.ceil(ttl))]);
      return;
    }
    const message = this.bus!.encode('fill', [key]);
    const stored = await this.#lease!.fill(rk, token, raw, ttl, this.bus!.channel, message);
    if (stored === undefined) this.#releaseLease(key, rk, token);
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
    for (const k of list) this.#evictLocal(k);
    this.stats.deletes += list.length;
    if (!this.#deletes) return;
    await this.#deletes.keys(list, list.map((k) => this.redisKey(k)));
    if (this.options.bus) this.bus?.publish('del', list);
  }

  /** Evicts every entry whose key starts with `namespace + ':'` (default keys of one class). */
  async deleteNamespace(namespace: string): Promise<void> {
    const prefix = `${namespace}:`;
    this.#dropLocal((k) => k.startsWith(prefix));
    if (!this.l2) return;
    await this.#deletes!.prefix(`${this.options.keyPrefix}{${prefix}`);
    if (this.options.bus) this.bus?.publish('ns', [prefix]);
  }

  /** Drops every entry under this cache's prefix, in both tiers, on every instance. */
  async clear(): Promise<void> {
    this.#dropLocal();
    if (!this.l2) return;
    await this.#deletes!.prefix(`${this.options.keyPrefix}{`);
    if (this.options.bus) this.bus?.publish('clear');
  }

  /**
   * Invalidates every entry carrying one of `tags`, in both tiers and on every instance, in O(1)
   * per tag: a timestamp per tag, checked when an entry is read.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    for (const t of tags) assertKey(t, 'invalidateTags()');
    const at = Date.now();
    this.#epoch++;
    this.stats.tagInvalidations += tags.length;
    await this.#tags.invalidate(tags, at);
    if (this.options.bus) this.bus?.publish('tags', tags, at);
  }

  /** Drops the keys that `match` accepts (every key without `match`) from this instance. */
  #dropLocal(match?: (key: string) => boolean): void {
    this.#epoch++;
    for (const [k, f] of this.#flights) if (!match || match(k)) this.#drop(k, f);
    for (const [k, r] of this.#refreshes) if (!match || match(k)) r.superseded = true;
    if (match) this.l1?.deleteWhere(match);
    else this.l1?.clear();
  }

  /** An entry from Redis: fresh, or (with `allowStale`) in its grace period; else undefined. */
  #readL2(key: string, rk: string, allowStale = false): Promise<Envelope | undefined> {
    return this.l2!.read(rk, (e) => this.#accept(rk, e, allowStale)) as Promise<Envelope | undefined>;
  }

  /** Whether what Redis returned may be served (tag checks may need Redis: then a promise). */
  #accept(rk: string, e: Outcome<Envelope | undefined>, allowStale: boolean): Envelope | undefined | Promise<Envelope | undefined> {
    if (
      e === FAILED ||
      e === undefined ||
      (allowStale ? e.staleUntil : e.expiresAt) <= Date.now() ||
      this.#deletes!.hides(rk, e.createdAt)
    ) {
      this.stats.l2Misses++;
      return undefined;
    }
    if (e.tags !== undefined) return this.#checkTags(e);
    this.stats.l2Hits++;
    return e;
  }

  async #checkTags(e: Envelope): Promise<Envelope | undefined> {
    if (await this.#tags.staleInL2(e.tags!, e.createdAt)) {
      this.stats.l2Misses++;
      return undefined;
    }
    this.stats.l2Hits++;
    return e;
  }

  #backfill(key: string, e: Envelope): void {
    const l1 = this.l1;
    if (!l1) return;
    const entry = l1Entry(e.value, e.createdAt, e.expiresAt, e.staleUntil, e.delta, 0, e.tags);
    const ttl = this.#l1TtlFor(entry, Date.now(), undefined);
    if (ttl > 0) l1.set(key, entry, ttl);
  }

  /**
   * How long an entry stays in L1: at most `l1.ttl`, never past its grace period, and — without
   * grace — only until its early-refresh window opens, so reads near expiry go to Redis, where
   * XFetch may refresh it (the L1 hit path never pays for that check).
   */
  #l1TtlFor(e: L1Entry, now: number, l1Ttl: number | undefined): number {
    const limit = l1Ttl ?? (this.options.l1 as { ttl: number }).ttl;
    const end = e.staleUntil !== e.expiresAt ? e.staleUntil : earlyRefreshWindowStart(e.expiresAt, e.delta, this.options.earlyRefresh);
    return Math.min(limit, end - now);
  }

  #supersede(key: string): void {
    this.#epoch++;
    this.#backoff.delete(key);
    const f = this.#flights.get(key);
    if (f !== undefined) this.#drop(key, f);
    const r = this.#refreshes.get(key);
    if (r !== undefined) r.superseded = true;
  }

  /** Drops a key from this instance: its L1 copy, and the loads of it in flight will not store. */
  #evictLocal(key: string): void {
    this.#supersede(key);
    this.l1?.delete(key);
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
        for (const k of keys) this.#evictLocal(k);
        break;
      case 'fill':
        for (const k of keys) this.l1?.delete(k);
        break;
      case 'ns':
        if (keys[0] !== undefined) this.#dropLocal((k) => k.startsWith(keys[0]!));
        break;
      case 'clear':
        this.#dropLocal();
        break;
      case 'tags':
        this.#epoch++;
        this.#tags.received(keys, m.t ?? Date.now());
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
