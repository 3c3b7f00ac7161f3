import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { InvalidationBus } from '../bus/invalidation-bus.js';
import type { Codec, Envelope } from '../codec/envelope.js';
import type { CacheEntryInfo } from '../interfaces/cache-operation-options.interface.js';
import type { CacheStatsSnapshot } from '../interfaces/cache-stats.interface.js';
import { assertKey, toRedisKey } from '../keys/cache-key.util.js';
import { createKeyScope } from '../keys/key-scope.util.js';
import { type L1Entry, l1Entry, MemoryTier } from '../l1/memory-tier.js';
import { FleetLease } from '../lease/fleet-lease.js';
import type { EntryPolicy } from '../options/entry-policy.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { raceTimeout } from '../resilience/timeouts.js';
import { NullSharedTier } from '../shared/null-shared-tier.js';
import type { Raw, SharedTier, Tracking } from '../shared/shared-tier.interface.js';
import { CacheStats } from '../stats/cache-stats.js';
import { TagIndex } from '../tags/tag-index.js';
import { loadEnd, loadStart, readEnd, readStart, traceMessage } from '../telemetry/trace-channels.js';
import { DurableWrites } from './durable-writes.js';
import { KeyStates } from './key-state.js';
import { LocalInvalidation } from './local-invalidation.js';
import { ReadPath } from './read-path.js';
import { Refresher } from './refresh.js';
import { snapshotOf } from './snapshot.js';
import { TrackedKeys } from './tracked-keys.js';
import { type Claim, leaseToken, WritePath } from './write-path.js';

/**
 * One application's cache: L1, the shared tier (Redis, in memory, or none) and what ties them
 * together — the read path, the write path, background refreshes, local invalidation, the fleet
 * lease and the bus. Keys given here are already scoped (`keyContext`); entry policies are
 * already merged (entry-policy.ts).
 */
export class CacheEngine {
  readonly instanceId = randomUUID();
  readonly l1: MemoryTier | undefined;
  readonly shared: SharedTier;
  /** Without a shared tier: L1 keeps entries for their whole life and nothing is serialized. */
  readonly isL1Only: boolean;
  readonly bus: InvalidationBus | undefined;
  /** Server-assisted invalidation (`tracking` option; with L1 and a tier that supports it). */
  readonly tracking: Tracking | undefined;
  readonly trackedKeys: TrackedKeys | undefined;
  readonly lease: FleetLease | undefined;
  readonly tags: TagIndex;
  readonly keys = new KeyStates();
  readonly durable: DurableWrites;
  readonly read = new ReadPath(this);
  readonly writes = new WritePath(this);
  readonly refresher = new Refresher(this);
  readonly local = new LocalInvalidation(this);
  readonly #logger = new Logger('TieredCache');
  readonly #warned = new Set<string>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(
    readonly options: ResolvedOptions,
    readonly codec: Codec,
    shared: SharedTier | undefined,
    readonly stats = new CacheStats(),
  ) {
    this.l1 = options.l1 ? new MemoryTier(options.l1) : undefined;
    this.isL1Only = shared === undefined;
    this.shared = shared ?? new NullSharedTier();
    // How long a tag's time read from the shared tier is trusted before it is read again: as long
    // as L1 copies may be stale anyway; without L1, while the bus keeps it current (else never:
    // with `l1: false, bus: false` every tagged read re-reads its tags, one MGET).
    this.tags = new TagIndex(this.shared, options.keyPrefix, options.l1 ? options.l1.ttl : options.bus ? options.entry.l1Ttl : 0);
    if (shared !== undefined && shared.hasBus !== false) {
      this.lease = new FleetLease(shared, this.stats, options, (key, sk) => this.#readFresh(key, sk));
      // Subscribed even with `bus: false`: lease waiters are woken by the bus, and the other
      // instances' invalidations still apply here. `bus: false` only stops announcing.
      this.bus = new InvalidationBus(shared, options.keyPrefix, this.instanceId, this.stats, this.local.onBus, this.local.onGap, options.bus);
    }
    this.durable = new DurableWrites(this.shared, this.bus);
    if (options.tracking && options.l1 && shared?.track !== undefined) {
      this.trackedKeys = new TrackedKeys(options.keyPrefix, options.l1.max);
      this.tracking = shared.track(options.keyPrefix, this.local.tracked);
    }
    this.#unsubscribe.push(
      // Back after an outage (connection ready, or the breaker closed): redo what did not land.
      this.shared.on('recovered', () => void this.durable.retry()),
      // In trouble: nobody waits for a lease holder whose result may never be announced.
      this.shared.on('trouble', () => this.lease?.wakeAll()),
    );
  }

  /** Connects the shared tier and the bus, waiting at most `connectTimeout`; never throws. */
  async connect(): Promise<void> {
    await this.shared.connect(this.options.connectTimeout);
    await this.bus?.start(this.shared.connected ? this.options.connectTimeout : 0);
    await this.tracking?.start(this.shared.connected ? this.options.connectTimeout : 0);
  }

  /**
   * Shuts down: waiters on other instances' leases stop waiting (they run their loaders), retries
   * stop, and what the library opened is closed (a client passed in is left open).
   */
  async close(): Promise<void> {
    this.lease?.close();
    // Writes the shared tier has not confirmed get one last try (bounded): after close() no retry
    // timer would send them, and a set() or del() made while Redis was away would be lost.
    if (this.durable.pending > 0 && this.shared.connected) await raceTimeout(this.durable.retry(), Math.max(2 * this.options.l2Timeout, 1_000));
    this.durable.close();
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.bus?.close();
    await this.tracking?.close();
    await this.shared.close();
  }

  /** The key as stored: with `keyContext`, under the context's own form (see `createKeyScope`). */
  readonly scope: (key: string) => string = createKeyScope(this.options.keyContext);

  /** The shared tier's key of an entry. */
  storageKey(key: string): string {
    const sk = toRedisKey(this.options.keyPrefix, key, this.options.maxKeyLength);
    this.trackedKeys?.remember(sk, key);
    return sk;
  }

  // ---- Reads -------------------------------------------------------------------------------

  getOrSet<T>(key: string, loader: () => T | Promise<T>, p: EntryPolicy): Promise<T> {
    if (readStart.hasSubscribers) return this.#traced(key, loader, p) as Promise<T>;
    return this.read.cached(key, loader, p) as Promise<T>;
  }

  async get<T>(key: string): Promise<T | undefined> {
    assertKey(key, 'get()');
    return (await this.read.read(key, this.options.entry))?.value as T | undefined;
  }

  /** A fresh entry with its times (L1, else the shared tier, back-filling L1), or undefined. */
  async peek(key: string): Promise<CacheEntryInfo | undefined> {
    assertKey(key, 'peek()');
    const e = await this.read.read(key, this.options.entry);
    return e === undefined ? undefined : { value: e.value, createdAt: e.createdAt, expiresAt: e.expiresAt, staleUntil: e.staleUntil };
  }

  // ---- Writes and invalidations ------------------------------------------------------------

  set(key: string, value: unknown, p: EntryPolicy): Promise<void> {
    assertKey(key, 'set()');
    return this.writes.set(key, value, p);
  }

  /**
   * Evicts keys from both tiers: here at once (loads in flight will not store), then in the
   * shared tier (retried until it confirms), then on the other instances through the bus.
   */
  async del(keys: string | readonly string[]): Promise<void> {
    const list = typeof keys === 'string' ? [keys] : keys;
    for (const k of list) assertKey(k, 'del()');
    for (const k of list) this.local.evict(k);
    this.stats.deletes += list.length;
    if (this.isL1Only) return;
    await this.durable.del(
      list,
      list.map((k) => this.storageKey(k)),
    );
    this.bus?.publish('del', list);
  }

  /** Evicts every entry whose key starts with `namespace + ':'` (default keys of one class). */
  async deleteNamespace(namespace: string): Promise<void> {
    const prefix = `${namespace}:`;
    this.local.evictWhere((k) => k.startsWith(prefix));
    if (this.isL1Only) return;
    const announce = () => this.bus?.publish('ns', [prefix]);
    await this.durable.delPrefix(`${this.options.keyPrefix}{${prefix}`, announce);
    announce();
  }

  /**
   * Drops every entry under this cache's prefix, in both tiers, on every instance. Writes and
   * loads dated before it that reach the shared tier afterwards (retried after an outage, or
   * landing while it deletes) are dropped there, on whichever instance they were made.
   */
  async clear(): Promise<void> {
    this.local.evictWhere();
    if (this.isL1Only) return;
    const announce = () => this.bus?.publish('clear');
    await this.durable.clear(`${this.options.keyPrefix}{`, announce);
    announce();
  }

  /**
   * Invalidates every entry carrying one of `tags`, in both tiers and on every instance, in O(1)
   * per tag: a timestamp per tag, checked when an entry is read.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    for (const t of tags) assertKey(t, 'invalidateTags()');
    const at = Date.now();
    this.keys.supersedeTagged(tags);
    this.stats.tagInvalidations += tags.length;
    this.tags.received(tags, at);
    if (this.isL1Only) return;
    await Promise.all(tags.map((t) => this.durable.tag(t, this.tags.markerKey(t), at, this.options.tagTtl)));
    this.bus?.publish('tags', tags, at);
  }

  // ---- Shared helpers of the paths ---------------------------------------------------------

  /** An L1 entry for an envelope (one hidden class for every entry; `size` in bytes for `maxSize`). */
  l1Entry(e: Envelope, size: number): L1Entry {
    return l1Entry(e.value, e.createdAt, e.expiresAt, e.staleUntil, e.delta, size, e.tags);
  }

  /** Decodes stored bytes; bytes that do not decode are deleted, counted and logged, never thrown. */
  decode(sk: string, raw: Raw): Envelope | undefined {
    try {
      return this.codec.decode(raw);
    } catch (err) {
      this.stats.corrupt++;
      this.warnOnce(`corrupt:${sk}`, `Deleted an entry that does not decode (${(err as Error).message}): ${sk}`);
      void this.shared.del([sk]);
      return undefined;
    }
  }

  /** Frees a lease this instance holds, then tells waiters elsewhere (they re-check at once). */
  releaseLease(key: string, sk: string, token: string): void {
    void this.lease!.release(sk, token).then(() => this.bus?.publish('release', [key]));
  }

  /** `releaseLease` for a load's claim, when it holds a lease. */
  releaseClaim(key: string, sk: string, claim: Claim): void {
    const token = leaseToken(claim);
    if (token !== undefined) this.releaseLease(key, sk, token);
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

  /** A fresh entry in the shared tier (for lease waiters, after the holder stored it). */
  async #readFresh(_key: string, sk: string): Promise<Envelope | undefined> {
    return this.read.accept(sk, await this.shared.get(sk), false);
  }

  /** `getOrSet` published on the trace channels: the read, and the loader run if there is one. */
  #traced(key: string, loader: () => unknown, p: EntryPolicy): Promise<unknown> {
    const read = traceMessage(this.instanceId, key);
    readStart.publish(read);
    const hit = this.read.freshInL1(key);
    if (hit !== undefined) {
      read.outcome = 'l1';
      readEnd.publish(read);
      return Promise.resolve(hit.value);
    }
    const joined = this.keys.flight(key) !== undefined;
    const traced = () => {
      const load = traceMessage(this.instanceId, key);
      loadStart.publish(load);
      return load
        .run(() => Promise.resolve().then(loader))
        .then(
          (v) => {
            loadEnd.publish(load);
            return v;
          },
          (err) => {
            load.error = err;
            loadEnd.publish(load);
            throw err;
          },
        );
    };
    const result = read.run(() => this.read.miss(key, traced, p));
    const f = this.keys.flight(key);
    const outcome = () => (joined ? 'coalesced' : (f?.outcome ?? 'l2'));
    return result.then(
      (v) => {
        read.outcome = outcome();
        readEnd.publish(read);
        return v;
      },
      (err) => {
        read.outcome = joined ? 'coalesced' : f?.outcome;
        read.error = err;
        readEnd.publish(read);
        throw err;
      },
    );
  }
}
