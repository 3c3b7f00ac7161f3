import { LRUCache } from 'lru-cache';
import type { ReadOutcome } from '../interfaces/read-outcome.interface.js';
import type { HeldLease } from '../lease/fleet-lease.js';
import type { Claim } from './write-path.js';

/**
 * A load of one key in this process (a foreground load or a background refresh). Every caller of
 * the key shares `promise`, which settles when the load settles — not when one caller stops
 * waiting (`hardTimeout`), so a second caller never starts a second loader meanwhile.
 */
export interface Flight {
  promise: Promise<unknown>;
  /** Set when the key is evicted or overwritten during the load: its result must not be stored. */
  superseded: boolean;
  /** How the flight answered, for tracing. */
  outcome: ReadOutcome | undefined;
  /** A stale value this flight may serve (grace period): a caller past `hardTimeout` gets it. */
  stale: { value: unknown } | undefined;
  /**
   * What the read before the load brought: the key's write version (a load without a lease: its
   * store must still find it), or the lease itself (a read that took it, `readOrLease`).
   */
  claim: Claim;
  /** The read found another instance holding the key's lease (`readOrLease`). */
  held: HeldLease | undefined;
  /** The entry's tags: invalidating one of them supersedes the load. */
  tags: readonly string[] | undefined;
}

/** Most keys remembered for a refresh backoff; past it the oldest are forgotten (they refresh again). */
const MAX_BACKOFFS = 10_000;

/**
 * Everything this process knows about one key between calls, in one place: the load in flight,
 * the background refresh, the refresh backoff. Plus `epoch`, bumped by every local eviction or
 * overwrite, so a read that overlapped one does not back-fill L1 with what it read before.
 * (Three small maps inside: the foreground load, looked up on every L1 miss, costs one map entry
 * and no other object.)
 */
export class KeyStates {
  /**
   * Foreground loads by key, in a null-prototype object (dictionary mode) rather than a Map:
   * every L1 miss sets and deletes one entry, and in a long-lived Map that churn cost ~3.5 µs
   * per L2 hit in garbage collection, more than the rest of the read path (bench/ANALYSIS.md,
   * "L2 hit profile"). Any string is a safe key: with no prototype, `__proto__` is an own key.
   */
  readonly #flights: Record<string, Flight> = Object.create(null);
  #flightCount = 0;
  readonly #refreshes = new Map<string, Flight>();
  /** Made on the first backoff: lru-cache allocates its `max` slots up front. */
  #backoffs: LRUCache<string, true> | undefined;
  epoch = 0;

  flight(key: string): Flight | undefined {
    return this.#flights[key];
  }

  refresh(key: string): Flight | undefined {
    return this.#refreshes.get(key);
  }

  /** Registers a foreground load; it stays registered until `promise` settles or it is superseded. */
  beginFlight(key: string): Flight {
    const f = newFlight();
    if (this.#flights[key] === undefined) this.#flightCount++;
    this.#flights[key] = f;
    return f;
  }

  beginRefresh(key: string): Flight {
    const f = newFlight();
    this.#refreshes.set(key, f);
    return f;
  }

  /** Forgets a settled load (if it is still the key's). */
  end(key: string, f: Flight): void {
    if (this.#flights[key] === f) this.#dropFlight(key);
    else if (this.#refreshes.get(key) === f) this.#refreshes.delete(key);
  }

  inBackoff(key: string): boolean {
    return this.#backoffs !== undefined && this.#backoffs.size > 0 && this.#backoffs.has(key);
  }

  backoff(key: string, ms: number): void {
    if (ms > 0) (this.#backoffs ??= new LRUCache<string, true>({ max: MAX_BACKOFFS })).set(key, true, { ttl: ms });
  }

  /**
   * The key was evicted or overwritten here: loads and refreshes in flight will not store, and
   * they are forgotten, so a later caller starts afresh rather than joining one and getting what
   * it read before the eviction. The backoff is over (the next stale read may refresh at once).
   */
  supersede(key: string): void {
    this.epoch++;
    const f = this.#flights[key];
    if (f !== undefined) {
      f.superseded = true;
      this.#dropFlight(key);
    }
    const r = this.#refreshes.get(key);
    if (r !== undefined) {
      r.superseded = true;
      this.#refreshes.delete(key);
    }
    if (this.#backoffs !== undefined && this.#backoffs.size > 0) this.#backoffs.delete(key);
  }

  /** `supersede` for every key `match` accepts (every key without `match`). */
  supersedeWhere(match?: (key: string) => boolean): void {
    this.#supersedeMatching(match ?? (() => true));
    const backoffs = this.#backoffs;
    if (backoffs === undefined) return;
    if (match === undefined) backoffs.clear();
    else for (const key of [...backoffs.keys()]) if (match(key)) backoffs.delete(key);
  }

  /**
   * A tag was invalidated: loads of entries carrying it will not store, and later callers start
   * afresh instead of joining a load that began before the invalidation.
   */
  supersedeTagged(tags: readonly string[]): void {
    this.#supersedeMatching((_key, f) => f.tags?.some((t) => tags.includes(t)) === true);
  }

  /** Marks every load and refresh `accept` picks superseded and forgets it. */
  #supersedeMatching(accept: (key: string, f: Flight) => boolean): void {
    this.epoch++;
    for (const key in this.#flights) {
      const f = this.#flights[key]!;
      if (!accept(key, f)) continue;
      f.superseded = true;
      this.#dropFlight(key);
    }
    for (const [key, r] of this.#refreshes) {
      if (!accept(key, r)) continue;
      r.superseded = true;
      this.#refreshes.delete(key);
    }
  }

  /** Loads in flight (foreground and background), for shutdown. */
  get busy(): number {
    return this.#flightCount + this.#refreshes.size;
  }

  #dropFlight(key: string): void {
    delete this.#flights[key];
    this.#flightCount--;
  }
}

function newFlight(): Flight {
  return {
    promise: undefined as unknown as Promise<unknown>,
    superseded: false,
    outcome: undefined,
    stale: undefined,
    claim: undefined,
    held: undefined,
    tags: undefined,
  };
}
