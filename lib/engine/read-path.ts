import type { Envelope } from '../codec/envelope.js';
import { approximateSize } from '../l1/approximate-size.js';
import type { L1Entry } from '../l1/memory-tier.js';
import type { EntryPolicy } from '../options/entry-policy.js';
import { earlyRefreshWindowStart, shouldRefreshEarly } from '../resilience/early-refresh.js';
import { LoaderTimeoutError, raceTimeout, TIMED_OUT } from '../resilience/timeouts.js';
import { FAILED, LEASED, type Outcome, type Raw } from '../shared/shared-tier.interface.js';
import type { CacheEngine } from './cache-engine.js';
import type { Flight } from './key-state.js';
import { NO_REFRESH } from './refresh.js';
import type { Claim } from './write-path.js';

/** A read that was not sent: the shared tier is away. */
const NOT_READ: Promise<typeof FAILED> = Promise.resolve(FAILED);

/**
 * The read path, top to bottom: L1 → (join a load in flight) → shared tier → stale value in its
 * grace period → fleet lease → loader → store. `getOrSet`, `@Cacheable` and the compat layer all
 * come through `cached()`; `get()`/`peek()` through `read()`.
 */
export class ReadPath {
  constructor(private readonly e: CacheEngine) {}

  /**
   * The L1 hit path, kept small: a fresh hit costs one lru-cache lookup (plus a tag check if
   * tagged, a clock read if it has a grace period) and sends nothing to the shared tier.
   */
  cached(key: string, loader: () => unknown, p: EntryPolicy): Promise<unknown> {
    const hit = this.freshInL1(key);
    if (hit !== undefined) return Promise.resolve(hit.value);
    return this.miss(key, loader, p);
  }

  /** A fresh L1 entry, or undefined (an expired one without grace is dropped on the way). */
  freshInL1(key: string): L1Entry | undefined {
    const e = this.e;
    const l1 = e.l1;
    if (l1 === undefined) return undefined;
    const entry = l1.get(key);
    if (
      entry === undefined ||
      (entry.tags !== undefined && e.tags.staleInL1(entry)) ||
      (entry.staleUntil !== entry.expiresAt && Date.now() >= entry.expiresAt)
    ) {
      if (entry !== undefined && entry.staleUntil === entry.expiresAt) l1.delete(key);
      e.stats.l1Misses++;
      return undefined;
    }
    e.stats.l1Hits++;
    return entry;
  }

  /** After an L1 miss: join the key's load in flight, or start one; wait at most `hardTimeout`. */
  miss(key: string, loader: () => unknown, p: EntryPolicy): Promise<unknown> {
    const { keys, stats } = this.e;
    let f = keys.flight(key);
    if (f !== undefined) stats.coalesced++;
    else {
      f = keys.beginFlight(key);
      f.tags = p.tags;
      f.promise = this.#fetch(key, loader, p, f);
    }
    return p.hardTimeout > 0 ? this.#waitAtMost(key, f, p.hardTimeout) : f.promise;
  }

  /**
   * One load of one key, registered as its flight until it settles (whatever its callers do
   * meanwhile), so the loader runs at most once per key at a time in this process.
   */
  async #fetch(key: string, loader: () => unknown, p: EntryPolicy, f: Flight): Promise<unknown> {
    const e = this.e;
    const sk = e.storageKey(key);
    try {
      // STALE IN L1: a value in its grace period is served while one refresh runs.
      const staleL1 = this.#staleInL1(key);
      if (staleL1 !== undefined) return await this.#serveStale(key, sk, staleL1, loader, p, f);

      // SHARED TIER: a fresh entry is served (and maybe refreshed early); with `lock: false` the
      // read also brings the key's write version, which the store after the load must still find.
      const lease = p.lock ? e.lease : undefined;
      const raw = await (lease?.expectsMiss ? this.#readOrLease(sk, f) : this.readRaw(sk, p, f));
      let claim: Claim = f.claim;
      const readFailed = raw === FAILED;
      if (!readFailed) lease?.observeRead(raw === null);
      const accepted = this.accept(sk, raw, true);
      const found = accepted instanceof Promise ? await accepted : accepted;
      if (found !== undefined && found.expiresAt > Date.now()) {
        f.outcome = 'l2';
        this.#maybeRefreshEarly(key, sk, found, loader, p);
        return this.#serve(key, found, p, f);
      }

      // STALE IN THE SHARED TIER: served like a stale L1 value.
      if (found !== undefined) {
        if (!f.superseded) this.backfill(key, found, p);
        return await this.#serveStale(key, sk, found, loader, p, f);
      }

      // AN EARLY REFRESH STILL RUNNING when its entry expired: its result is the load (a lease
      // the read took goes back).
      const refreshing = e.keys.refresh(key);
      if (refreshing !== undefined) {
        const fresh = await refreshing.promise;
        if (fresh !== NO_REFRESH) {
          e.releaseClaim(key, sk, claim);
          return fresh;
        }
      }

      // FLEET LEASE: one loader across the instances; the others wait for its value. Not when
      // the read failed: a tier that did not answer the read will not grant a lease either; nor
      // when the read took it already.
      if (p.lock && !readFailed && e.lease !== undefined && claim === undefined) {
        const outcome = await e.lease.acquireOrWait(key, sk, f.held);
        if (outcome !== undefined && 'envelope' in outcome) {
          f.outcome = 'fleet';
          return this.#serve(key, outcome.envelope, p, f);
        }
        if (outcome !== undefined) claim = outcome;
      }

      // LOAD AND STORE.
      f.outcome = 'load';
      return await e.writes.load(key, sk, loader, p, f, claim);
    } finally {
      e.keys.end(key, f);
    }
  }

  /**
   * An entry's bytes from the shared tier (FAILED when it is away or did not answer). A load
   * that will not hold a lease also reads the key's write version into `f.claim`: the store after
   * it must still find that version.
   */
  readRaw(sk: string, p: EntryPolicy, f: Flight): Promise<Outcome<Raw | null>> {
    const shared = this.e.shared;
    if (!shared.connected) return NOT_READ;
    if (p.lock && this.e.lease !== undefined) return shared.get(sk);
    // Without a fleet lease (a tier with no bus), every load is claimed by the write version.
    return shared.getVersioned(sk).then((r) => {
      if (r === FAILED) return FAILED;
      f.claim = { version: r.version };
      return r.raw;
    });
  }

  /**
   * The read before a load under the lease while most such reads miss (`FleetLease.expectsMiss`;
   * while they hit, `readRaw`: the lease script costs an L2 hit more than a GET): it also takes
   * the lease when the entry is absent (into `f.claim`; who holds it, into `f.held`), so a miss
   * costs one round trip instead of two.
   */
  #readOrLease(sk: string, f: Flight): Promise<Outcome<Raw | null>> {
    const { shared, lease, options } = this.e;
    if (!shared.connected) return NOT_READ;
    // A breaker not closed skips or probes: a plain read then, or every skipped read would send
    // the release below (critical, so sent through an open breaker).
    if (shared.breaker !== undefined && shared.breaker.state !== 'closed') return shared.get(sk);
    const token = lease!.newToken();
    const sentAt = performance.now();
    return shared.readOrLease(sk, token, options.leaseTtl).then((r) => {
      if (r === FAILED) {
        // It may still reach Redis late: the RELEASE right behind it on the connection frees it.
        void lease!.release(sk, token);
        return FAILED;
      }
      if (r === LEASED) {
        lease!.acquiredByRead();
        f.claim = { token };
        return null;
      }
      if (typeof r === 'number') {
        f.held = { left: r, sentAt };
        return null;
      }
      return r;
    });
  }

  /** A caller's wait for a flight, at most `ms`; a stale value the flight may serve beats an error. */
  async #waitAtMost(key: string, f: Flight, ms: number): Promise<unknown> {
    const outcome = await raceTimeout(f.promise, ms);
    if (outcome !== TIMED_OUT) return outcome;
    if (f.stale !== undefined) return f.stale.value;
    this.e.stats.hardTimeouts++;
    throw new LoaderTimeoutError(key, ms);
  }

  #serve(key: string, found: Envelope, p: EntryPolicy, f: Flight): unknown {
    if (!f.superseded) this.backfill(key, found, p);
    return found.value;
  }

  /** A stale L1 entry still in its grace period (and not invalidated by a tag). */
  #staleInL1(key: string): L1Entry | undefined {
    const entry = this.e.l1?.get(key);
    if (entry === undefined || entry.staleUntil === entry.expiresAt || entry.staleUntil <= Date.now()) return undefined;
    if (entry.tags !== undefined && this.e.tags.staleInL1(entry)) return undefined;
    return entry;
  }

  /**
   * Grace period: the stale value now (or after `softTimeout` if the refresh is not done by
   * then), one refresh in the background; after a failed refresh, none for `graceBackoff`.
   */
  async #serveStale(key: string, sk: string, stale: { value: unknown; createdAt: number }, loader: () => unknown, p: EntryPolicy, f: Flight): Promise<unknown> {
    const e = this.e;
    f.outcome = 'stale';
    f.stale = stale;
    e.stats.staleServed++;
    if (e.keys.inBackoff(key)) return stale.value;
    const refresh = e.refresher.refresh(key, sk, loader, p, stale.createdAt);
    if (p.softTimeout > 0) {
      const fresh = await raceTimeout(refresh, p.softTimeout);
      if (fresh !== TIMED_OUT && fresh !== NO_REFRESH) return fresh;
      if (fresh === TIMED_OUT) e.stats.softTimeouts++;
    }
    return stale.value;
  }

  /** XFetch on a fresh read from the shared tier: sometimes start a background refresh before expiry. */
  #maybeRefreshEarly(key: string, sk: string, found: Envelope, loader: () => unknown, p: EntryPolicy): void {
    if (found.delta <= 0 || p.earlyRefresh === false) return;
    if (!shouldRefreshEarly(Date.now(), found.expiresAt, found.delta, p.earlyRefresh)) return;
    this.e.stats.earlyRefreshes++;
    void this.e.refresher.refresh(key, sk, loader, p, found.createdAt);
  }

  /**
   * A read that never loads (`get`, `peek`): L1, else the shared tier, back-filling L1 unless the
   * key was evicted or overwritten here while the read was out.
   */
  async read(key: string, p: EntryPolicy): Promise<Envelope | L1Entry | undefined> {
    const hit = this.freshInL1(key);
    if (hit !== undefined) return hit;
    const e = this.e;
    if (!e.shared.connected) return undefined;
    const epoch = e.keys.epoch;
    const sk = e.storageKey(key);
    const found = await this.accept(sk, await e.shared.get(sk), false);
    if (found !== undefined && epoch === e.keys.epoch) this.backfill(key, found, p);
    return found;
  }

  /**
   * What the shared tier returned, if it may be served: decoded, not expired (with `allowStale`,
   * within its grace period), not hidden by a write this instance has not seen confirmed, and not
   * invalidated by a tag (a promise only when a tag must be fetched first). Bytes that do not
   * decode are deleted and count as a miss.
   */
  accept(sk: string, raw: Outcome<Raw | null>, allowStale: boolean): Envelope | undefined | Promise<Envelope | undefined> {
    const e = this.e;
    let found = raw === FAILED || raw === null ? undefined : e.decode(sk, raw);
    if (found !== undefined) {
      const override = e.durable.override(sk, found.createdAt);
      if (override !== undefined) found = override ?? undefined;
    }
    if (found === undefined || (allowStale ? found.staleUntil : found.expiresAt) <= Date.now()) return this.#miss();
    if (found.tags === undefined) return this.#hit(found);
    const stale = e.tags.staleInL2(found.tags, found.createdAt);
    const entry = found;
    return stale instanceof Promise ? stale.then((s) => (s ? this.#miss() : this.#hit(entry))) : stale ? this.#miss() : this.#hit(found);
  }

  #miss(): undefined {
    this.e.stats.l2Misses++;
    return undefined;
  }

  #hit(found: Envelope): Envelope {
    this.e.stats.l2Hits++;
    return found;
  }

  /**
   * Keeps an entry read from the shared tier in L1 for min(`l1Ttl`, what is left of it), and —
   * without grace — only until its early-refresh window opens, so reads near expiry go to the
   * shared tier, where XFetch may refresh it (the L1 hit path never pays for that check).
   */
  backfill(key: string, found: Envelope, p: EntryPolicy): void {
    const l1 = this.e.l1;
    if (l1 === undefined) return;
    // Sized only when `l1.maxSize` asks for it (the bytes read are gone by now: an estimate).
    const entry = this.e.l1Entry(found, l1.sized ? approximateSize(found.value) : 0);
    if (entry.tags !== undefined) entry.tagsTrustedUntil = this.e.tags.trustedUntil(entry.tags);
    const ttl = this.l1Ttl(entry, Date.now(), p);
    if (ttl > 0) l1.set(key, entry, ttl);
  }

  /**
   * How long an entry stays in L1 (see `backfill`). Without a shared tier L1 keeps it for its
   * whole life (`l1Ttl` then defaults to unbounded).
   */
  l1Ttl(entry: Envelope, now: number, p: EntryPolicy): number {
    const end =
      this.e.isL1Only || entry.staleUntil !== entry.expiresAt ? entry.staleUntil : earlyRefreshWindowStart(entry.expiresAt, entry.delta, p.earlyRefresh);
    return Math.min(p.l1Ttl, end - now);
  }
}
