import type { ReadOutcome } from '../interfaces/read-outcome.interface.js';
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
  /** The key's write version read before a load without a lease: its store must still find it. */
  claim: Claim;
}

interface KeyState {
  flight: Flight | undefined;
  refresh: Flight | undefined;
  /** Until then (epoch ms) a failed refresh is not retried; the stale value is served. */
  backoffUntil: number;
}

/** Most keys remembered only for a refresh backoff; past it the oldest backoffs are forgotten. */
const MAX_IDLE = 10_000;

/**
 * Everything this process knows about one key between calls, in one place: the load in flight,
 * the background refresh, the refresh backoff. Plus `epoch`, bumped by every local eviction or
 * overwrite, so a read that overlapped one does not back-fill L1 with what it read before.
 */
export class KeyStates {
  readonly #states = new Map<string, KeyState>();
  #idle = 0;
  epoch = 0;

  flight(key: string): Flight | undefined {
    return this.#states.get(key)?.flight;
  }

  refresh(key: string): Flight | undefined {
    return this.#states.get(key)?.refresh;
  }

  /** Registers a foreground load; it stays registered until `promise` settles or it is superseded. */
  beginFlight(key: string): Flight {
    const f = newFlight();
    this.#state(key).flight = f;
    return f;
  }

  beginRefresh(key: string): Flight {
    const f = newFlight();
    this.#state(key).refresh = f;
    return f;
  }

  /** Forgets a settled load (if it is still the key's). */
  end(key: string, f: Flight): void {
    const s = this.#states.get(key);
    if (s === undefined) return;
    if (s.flight === f) s.flight = undefined;
    if (s.refresh === f) s.refresh = undefined;
    this.#tidy(key, s);
  }

  inBackoff(key: string): boolean {
    const s = this.#states.get(key);
    return s !== undefined && s.backoffUntil > Date.now();
  }

  backoff(key: string, ms: number): void {
    if (ms > 0) this.#state(key).backoffUntil = Date.now() + ms;
  }

  /**
   * The key was evicted or overwritten here: loads in flight will not store, later callers start
   * afresh, and the backoff is over (the next stale read may refresh at once).
   */
  supersede(key: string): void {
    this.epoch++;
    const s = this.#states.get(key);
    if (s === undefined) return;
    this.#supersede(s);
    this.#tidy(key, s);
  }

  /** `supersede` for every key `match` accepts (every key without `match`). */
  supersedeWhere(match?: (key: string) => boolean): void {
    this.epoch++;
    for (const [key, s] of this.#states) {
      if (match !== undefined && !match(key)) continue;
      this.#supersede(s);
      this.#tidy(key, s);
    }
  }

  /** Loads in flight (foreground and background), for shutdown. */
  get busy(): number {
    let n = 0;
    for (const s of this.#states.values()) n += (s.flight ? 1 : 0) + (s.refresh ? 1 : 0);
    return n;
  }

  #supersede(s: KeyState): void {
    if (s.flight !== undefined) {
      s.flight.superseded = true;
      s.flight = undefined;
    }
    if (s.refresh !== undefined) s.refresh.superseded = true;
    s.backoffUntil = 0;
  }

  #state(key: string): KeyState {
    let s = this.#states.get(key);
    if (s === undefined) {
      s = { flight: undefined, refresh: undefined, backoffUntil: 0 };
      this.#states.set(key, s);
    }
    return s;
  }

  /** Drops a state that holds nothing; bounds states kept only for a backoff. */
  #tidy(key: string, s: KeyState): void {
    if (s.flight !== undefined || s.refresh !== undefined) return;
    if (s.backoffUntil <= Date.now()) {
      this.#states.delete(key);
      return;
    }
    if (++this.#idle < MAX_IDLE) return;
    this.#idle = 0;
    const now = Date.now();
    for (const [k, x] of this.#states) if (x.flight === undefined && x.refresh === undefined && x.backoffUntil <= now) this.#states.delete(k);
    if (this.#states.size <= MAX_IDLE) return;
    // Still too many: forget the oldest backoffs (their keys simply refresh again).
    for (const [k, x] of this.#states) {
      if (this.#states.size <= MAX_IDLE) break;
      if (x.flight === undefined && x.refresh === undefined) this.#states.delete(k);
    }
  }
}

function newFlight(): Flight {
  return { promise: undefined as unknown as Promise<unknown>, superseded: false, outcome: undefined, stale: undefined, claim: undefined };
}
