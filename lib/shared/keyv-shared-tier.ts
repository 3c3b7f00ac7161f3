import { CircuitBreaker } from '../l2/circuit-breaker.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import type { CacheStats } from '../stats/cache-stats.js';
import { FAILED, type Outcome, type Raw, type SharedTier, type Subscription, VERSION_TTL } from './shared-tier.interface.js';

/**
 * What the shared tier needs of a Keyv store: a `Keyv` instance, a `Cacheable`, or any object
 * with Keyv's `get`/`set(key, value, ttl ms)`/`delete`/`clear`. `iterator` (Keyv's, when its
 * adapter can list keys) makes prefix deletes exact; `on('error')` lets store errors that Keyv
 * swallows (it resolves `undefined` instead) be seen and counted.
 * @publicApi
 */
export interface KeyvStore {
  get(key: string): unknown;
  set(key: string, value: any, ttl?: number): unknown;
  delete(key: string): unknown;
  clear(): unknown;
  disconnect?(): unknown;
  iterator?: ((...args: any[]) => AsyncIterable<[string, unknown]>) | undefined;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
  off?(event: 'error', listener: (error: unknown) => void): unknown;
}

/** The last write or delete of a key (or a prefix), for the load-versus-eviction check. */
interface Write {
  seq: number;
  at: number;
}

/** Most keys whose last write is remembered; past it the oldest are forgotten (as after VERSION_TTL). */
const MAX_WRITES = 100_000;

const alwaysOff: Subscription = { connected: false, start: () => Promise.resolve(), close: () => Promise.resolve() };

/**
 * The shared tier over Keyv stores (`CacheModule.register({ stores })`), with cache-manager 7's
 * semantics for several stores: reads go through them in order and return the first hit; writes
 * and deletes go to all of them.
 *
 * A Keyv store has get, set with a TTL, delete and clear, and nothing more, so:
 * - No fleet lease and no invalidation bus (`hasBus: false`): a loader runs once per key at a
 *   time in each process; another instance's write or delete reaches this instance's L1 only
 *   when its L1 copy expires (`l1.ttl`).
 * - Write versions are kept in this process: a load's result is stored only if no write or
 *   delete of its key (nor a clear of its prefix) was made through this process since the load
 *   read the store. Writes of one key are sent in the order they were made, and a prefix delete
 *   waits for the writes before it, so a later write cannot be overtaken by an earlier one.
 * - Prefix deletes (`clear()`, namespaces) list the keys with the store's iterator when it has
 *   one (Keyv over a Map or Redis) and delete the matching ones; otherwise they `clear()` the
 *   store: more than asked, never less.
 * - Every call is bounded by `l2Timeout` and never throws: a store that rejects, emits `error`
 *   during the call, refuses a write (`set` resolving `false`) or does not answer in time is
 *   reported as FAILED and counted (`l2Errors`, `l2Timeouts`); writes and deletes are then
 *   retried by the engine until they land.
 */
export class KeyvSharedTier implements SharedTier {
  readonly hasBus = false;
  readonly breaker: CircuitBreaker;
  #closed = false;
  /** Bumped by every `error` a store emits: a call that saw it change did not go well. */
  #errorEpoch = 0;
  #seq = 0;
  readonly #writes = new Map<string, Write>();
  readonly #prefixWrites = new Map<string, Write>();
  /** The last operation sent per key: the next one on that key waits for it. */
  readonly #tails = new Map<string, Promise<unknown>>();
  /** A prefix delete in progress: every later operation waits for it. */
  #barrier: Promise<unknown> = Promise.resolve();
  readonly #onTrouble: (() => void)[] = [];
  readonly #onRecovered: (() => void)[] = [];

  constructor(
    readonly stores: readonly KeyvStore[],
    /** Whether values are bytes (binary serializers): stored as base64 text, which every store keeps. */
    private readonly binary: boolean,
    private readonly timeoutMs: number,
    private readonly stats: CacheStats,
    breaker: ResolvedOptions['breaker'] = false,
  ) {
    this.breaker = new CircuitBreaker(
      breaker,
      () => this.#emit(this.#onTrouble),
      () => this.#emit(this.#onRecovered),
    );
    for (const s of stores) s.on?.('error', this.#onStoreError);
  }

  get connected(): boolean {
    return !this.#closed;
  }

  /** Reads one key, so a store that connects lazily (KeyvRedis) is connected before the first call. */
  async connect(waitMs: number): Promise<void> {
    await this.#call(() => this.#read('__tiered-cache:connect'), false, waitMs);
  }

  /** Disconnects the stores, as `@nestjs/cache-manager` does at shutdown (they were given to the module). */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#call(() => Promise.all(this.stores.map((s) => s.disconnect?.())), true);
    // After the disconnect: a store reconnects on its next command (KeyvRedis does), so none is sent.
    this.#closed = true;
    for (const s of this.stores) s.off?.('error', this.#onStoreError);
  }

  on(event: 'trouble' | 'recovered', listener: () => void): () => void {
    const list = event === 'trouble' ? this.#onTrouble : this.#onRecovered;
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i !== -1) list.splice(i, 1);
    };
  }

  get(key: string): Promise<Outcome<Raw | null>> {
    return this.#call(() => this.#read(key));
  }

  getVersioned(key: string): Promise<Outcome<{ raw: Raw | null; version: string }>> {
    // Taken before the read: a write made while the read is out makes the load's store a no-op.
    const version = String(this.#seq);
    return this.#call(async () => ({ raw: await this.#read(key), version }));
  }

  put(key: string, raw: Raw, ttl: number): Promise<Outcome<true>> {
    this.#wrote(key);
    return this.#call(() => this.#inOrder(key, () => this.#write(key, raw, ttl)).then(() => true as const), true);
  }

  putIfVersion(key: string, raw: Raw, ttl: number, version: string): Promise<Outcome<boolean>> {
    const seen = Number(version);
    return this.#call(() =>
      this.#inOrder(key, async () => {
        // Checked when its turn comes: a write or delete made after the load's read wins.
        if (this.#writtenSince(key, seen)) return false;
        await this.#write(key, raw, ttl);
        return true;
      }),
    );
  }

  del(keys: readonly string[]): Promise<Outcome<true>> {
    for (const k of keys) this.#wrote(k);
    return this.#call(() => Promise.all(keys.map((k) => this.#inOrder(k, () => this.#all((s) => s.delete(k))))).then(() => true as const), true);
  }

  delPrefix(prefix: string): Promise<Outcome<true>> {
    const now = Date.now();
    this.#prefixWrites.delete(prefix);
    this.#prefixWrites.set(prefix, { seq: ++this.#seq, at: now });
    this.#prune(this.#prefixWrites, now);
    const before = Promise.all([this.#barrier, ...this.#tails.values()]);
    this.#tails.clear();
    const run = before.then(() => this.#all((s) => this.#deletePrefix(s, prefix)));
    this.#barrier = run.then(noop, noop);
    return this.#call(() => run.then(() => true as const), true);
  }

  /**
   * A prefix delete: a Keyv store has no scripts to check a marker with, so writes are ordered
   * against the clear in this process only (see {@link KeyvSharedTier.delPrefix}); another
   * instance's older write may still land after it (this tier has no bus either).
   */
  clear(prefix: string): Promise<Outcome<true>> {
    return this.delPrefix(prefix);
  }

  /** No lease: the engine takes none over a tier without a bus (`hasBus`); these answer FAILED. */
  acquire(): Promise<Outcome<never>> {
    return Promise.resolve(FAILED);
  }
  readOrLease(): Promise<Outcome<never>> {
    return Promise.resolve(FAILED);
  }
  extend(): Promise<Outcome<boolean>> {
    return Promise.resolve(FAILED);
  }
  fill(): Promise<Outcome<boolean>> {
    return Promise.resolve(FAILED);
  }
  release(): Promise<Outcome<boolean>> {
    return Promise.resolve(false);
  }

  getMarkers(keys: readonly string[]): Promise<Outcome<(string | null)[]>> {
    return this.#call(() => Promise.all(keys.map(async (k) => (await this.#firstHit(k)) ?? null)).then((vs) => vs.map(markerString)));
  }

  setMarker(key: string, value: string, ttl: number): Promise<Outcome<true>> {
    return this.#call(() => this.#inOrder(key, () => this.#all((s) => s.set(key, value, ttlArg(ttl)), true)).then(() => true as const), true);
  }

  /** No bus: nothing to publish to (other instances are stale until their L1 TTL). */
  publish(): Promise<true> {
    return Promise.resolve(true);
  }
  subscribe(): Subscription {
    return alwaysOff;
  }

  /** Time of one read, in milliseconds; rejects when the stores do not answer within `l2Timeout`. */
  async ping(): Promise<number> {
    const start = performance.now();
    if ((await this.#call(() => this.#read('__tiered-cache:ping'), true)) === FAILED) {
      throw new Error('The Keyv stores did not answer within l2Timeout');
    }
    return performance.now() - start;
  }

  // ---- Stores --------------------------------------------------------------------------------

  /** The first store's value (in order), decoded to what the codec reads. */
  async #read(key: string): Promise<Raw | null> {
    const v = await this.#firstHit(key);
    if (v === undefined) return null;
    if (typeof v !== 'string') return v as Raw; // another writer's value: it will not decode, and is deleted
    return this.binary ? Buffer.from(v, 'base64') : v;
  }

  async #firstHit(key: string): Promise<unknown> {
    for (const s of this.stores) {
      const v = await s.get(key);
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }

  #write(key: string, raw: Raw, ttl: number): Promise<void> {
    const value = typeof raw === 'string' ? raw : raw.toString('base64');
    return this.#all((s) => s.set(key, value, ttlArg(ttl)), true);
  }

  /**
   * Runs `op` on every store at once. A write (`set`) that resolves `false` failed (Keyv's way of
   * reporting a store error); a `delete` resolving `false` only found nothing to delete.
   */
  async #all(op: (s: KeyvStore) => unknown, isSet = false): Promise<void> {
    const results = await Promise.all(this.stores.map(async (s) => op(s)));
    if (isSet && results.includes(false)) throw new Error('a Keyv store refused the write');
  }

  async #deletePrefix(s: KeyvStore, prefix: string): Promise<unknown> {
    if (typeof s.iterator !== 'function') return s.clear();
    const keys: string[] = [];
    for await (const [k] of s.iterator()) if (k.startsWith(prefix)) keys.push(k);
    return Promise.all(keys.map((k) => s.delete(k)));
  }

  // ---- Ordering and versions -----------------------------------------------------------------

  /** Runs `op` after every earlier operation on `key` (and any prefix delete before it) settled. */
  #inOrder<T>(key: string, op: () => Promise<T>): Promise<T> {
    const run = (this.#tails.get(key) ?? this.#barrier).then(op);
    const tail = run.then(noop, noop);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return run;
  }

  #wrote(key: string): void {
    const now = Date.now();
    this.#writes.delete(key);
    this.#writes.set(key, { seq: ++this.#seq, at: now });
    this.#prune(this.#writes, now);
  }

  #writtenSince(key: string, seq: number): boolean {
    if ((this.#writes.get(key)?.seq ?? 0) > seq) return true;
    for (const [prefix, w] of this.#prefixWrites) if (w.seq > seq && key.startsWith(prefix)) return true;
    return false;
  }

  /** Forgets writes older than VERSION_TTL (oldest first: the map is in write order), as Redis expires them. */
  #prune(map: Map<string, Write>, now: number): void {
    for (const [k, w] of map) {
      if (w.at > now - VERSION_TTL && map.size <= MAX_WRITES) break;
      map.delete(k);
    }
  }

  // ---- Bounds and errors ---------------------------------------------------------------------

  /**
   * Runs `command` unless the breaker holds it back (`critical` ones pass), resolving its result,
   * or FAILED when it rejected, a store emitted `error` meanwhile, or `timeoutMs` passed first.
   */
  #call<T>(command: () => Promise<T>, critical = false, timeoutMs = this.timeoutMs): Promise<Outcome<T>> {
    if (this.#closed) {
      this.stats.l2Skipped++;
      return Promise.resolve(FAILED);
    }
    if (!critical && !this.breaker.allow()) {
      this.stats.l2Skipped++;
      return Promise.resolve(FAILED);
    }
    const epoch = this.#errorEpoch;
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        this.stats.l2Timeouts++;
        this.#failure();
        resolve(FAILED);
      }, timeoutMs);
      timer.unref();
      Promise.resolve()
        .then(command)
        .then(
          (v) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            if (this.#errorEpoch !== epoch) {
              this.#failure();
              return resolve(FAILED);
            }
            this.breaker.success();
            resolve(v);
          },
          () => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            // An error the store also emitted is counted once (by the listener).
            if (this.#errorEpoch === epoch) this.stats.l2Errors++;
            this.#failure();
            resolve(FAILED);
          },
        );
    });
  }

  #failure(): void {
    this.breaker.failure();
    this.#emit(this.#onTrouble);
  }

  readonly #onStoreError = (): void => {
    this.#errorEpoch++;
    this.stats.l2Errors++;
  };

  #emit(listeners: readonly (() => void)[]): void {
    for (const l of listeners) l();
  }
}

function noop(): void {}

function markerString(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

/** A TTL as stores take it: whole milliseconds, at least 1. */
function ttlArg(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}
