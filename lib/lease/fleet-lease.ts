import { randomBytes } from 'node:crypto';
import type { Envelope } from '../codec/envelope.js';
import { LockTimeoutError } from '../errors.js';
import { RecentKeys } from '../keys/recent-keys.util.js';
import type { ResolvedOptions } from '../options/resolve-options.js';
import { FAILED, type Raw, type SharedTier } from '../shared/shared-tier.interface.js';
import type { CacheStats } from '../stats/cache-stats.js';

/** The outcome of asking for a key's lease: hold it, read what the holder stored, or go without. */
export type LeaseOutcome = { token: string } | { envelope: Envelope } | undefined;

/** Another instance holds a key's lease, as a read told at `sentAt` (`performance.now()`): `left` ms remain. */
export interface HeldLease {
  left: number;
  sentAt: number;
}

/**
 * Weight of the latest read in the moving average of misses: about the last 16 reads count.
 * Above {@link MISS_RATE_FOR_ONE_TRIP}, reads under the lease go out as one script that also takes
 * the lease (bench/ANALYSIS.md, "One round trip per miss"): a miss then costs one round trip
 * instead of two, but a hit pays Lua instead of a plain GET (EVALSHA ~0.67x GET's throughput).
 */
const MISS_WEIGHT = 1 / 16;
const MISS_RATE_FOR_ONE_TRIP = 0.5;
/** Most announcements remembered (at least the latest half): one a waiter missed only costs it its sleep. */
const ANNOUNCED_MAX = 10_000;

/**
 * One loader per key across every instance sharing the Redis: the first to miss takes a lease
 * (SET NX PX with a random token), the others wait for a notification that it stored the value,
 * re-checking when the holder's lease would expire (so a dead holder costs at most `leaseTtl`).
 * Commands per waiter stay constant however long it waits.
 */
export class FleetLease {
  readonly #wakers = new Map<string, Set<() => void>>();
  /**
   * When each key was last announced (stored, evicted, released). A notification can arrive on
   * the subscriber connection before the reply to our ACQUIRE on the command connection: a
   * waiter that sees one newer than its ACQUIRE re-reads at once instead of sleeping.
   */
  readonly #announced = new RecentKeys<number>(ANNOUNCED_MAX);
  /** Shutting down: nobody waits any more, and no new wait starts. */
  #closed = false;
  /** Moving average of the reads under the lease that found no entry (0..1). */
  #missRate = 0;

  constructor(
    private readonly tier: SharedTier,
    private readonly stats: CacheStats,
    private readonly options: Pick<ResolvedOptions, 'leaseTtl' | 'lockWaitTimeout' | 'onLockTimeout'>,
    private readonly readL2: (key: string, redisKey: string) => Promise<Envelope | undefined>,
  ) {}

  /** What makes this instance's tokens its own: random, drawn once. */
  readonly #tokenPrefix = randomBytes(12).toString('base64url');
  #tokens = 0;

  /**
   * A lease token no other instance or load uses: this instance's random prefix and a counter
   * (a token only has to be unique; `randomBytes` per load cost ~5 % of a miss's CPU).
   */
  newToken(): string {
    return `${this.#tokenPrefix}${(++this.#tokens).toString(36)}`;
  }

  /** Counts a lease taken by a read (`SharedTier.readOrLease`). */
  acquiredByRead(): void {
    this.stats.leaseAcquired++;
  }

  /**
   * Whether most recent reads under the lease missed: the next one then reads and takes the lease
   * in one round trip (`SharedTier.readOrLease`) rather than a GET followed by the lease.
   */
  expectsMiss = false;

  /** Records whether a read under the lease found the entry absent (see `expectsMiss`). */
  observeRead(missed: boolean): void {
    const rate = this.#missRate + ((missed ? 1 : 0) - this.#missRate) * MISS_WEIGHT;
    this.#missRate = rate;
    this.expectsMiss = rate > MISS_RATE_FOR_ONE_TRIP;
  }

  /**
   * Takes the key's lease or waits for its holder's value. `held`: a read already found the lease
   * taken (`SharedTier.readOrLease`), so the wait starts without asking again.
   */
  async acquireOrWait(key: string, redisKey: string, held?: HeldLease): Promise<LeaseOutcome> {
    const token = this.newToken();
    const deadline = Date.now() + this.options.lockWaitTimeout;
    let waiting = false;
    let checkValue = true;
    let told = held;
    for (;;) {
      // Shutting down: the caller runs its loader rather than wait for a holder it cannot hear.
      if (this.#closed) return undefined;
      let sentAt: number;
      let r: number | 'acquired' | 'exists';
      if (told !== undefined) {
        ({ sentAt, left: r } = told);
        told = undefined;
      } else {
        sentAt = performance.now();
        const reply = await this.tier.acquire(redisKey, token, this.options.leaseTtl, checkValue);
        // Redis unreachable or slow: never block on a lease that cannot be taken. If the ACQUIRE
        // still reaches Redis late, the RELEASE right behind it on the connection frees it.
        if (reply === FAILED) {
          void this.release(redisKey, token);
          return undefined;
        }
        r = reply;
      }
      if (r === 'acquired') {
        this.stats.leaseAcquired++;
        return { token };
      }
      if (r === 'exists') {
        // A holder stored the value after our read: serve it (or, if it cannot be served, e.g. a
        // delete this instance has not seen confirmed, take the lease without the check).
        const envelope = await this.readL2(key, redisKey);
        if (envelope !== undefined) return { envelope };
        checkValue = false;
        continue;
      }
      if (!waiting) {
        this.stats.leaseWaits++;
        waiting = true;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        this.stats.leaseTimeouts++;
        if (this.options.onLockTimeout === 'error') throw new LockTimeoutError(key, this.options.lockWaitTimeout);
        return undefined;
      }
      const holderLeft = typeof r === 'number' && r > 0 ? r : 0;
      if ((this.#announced.get(key) ?? -1) < sentAt) await this.#sleepUntilWoken(key, Math.min(left, holderLeft + 2));
      if (this.#closed) return undefined;
      const envelope = await this.readL2(key, redisKey);
      if (envelope !== undefined) return { envelope };
    }
  }

  /**
   * One attempt, for background refreshes: a token when taken, `null` when another instance
   * holds the lease (it is refreshing), undefined when Redis cannot be asked.
   */
  async tryAcquire(redisKey: string): Promise<string | null | undefined> {
    const token = this.newToken();
    const r = await this.tier.acquire(redisKey, token, this.options.leaseTtl, false);
    if (r === FAILED) {
      void this.release(redisKey, token);
      return undefined;
    }
    if (r !== 'acquired') return null;
    this.stats.leaseAcquired++;
    return token;
  }

  /**
   * Keeps the lease alive while `work` runs, so loads longer than `leaseTtl` keep it — for at
   * most `maxHold` ms: a hung loader then stops holding the other instances back.
   */
  hold<T>(redisKey: string, token: string, work: Promise<T>, maxHold: number): Promise<T> {
    const ttl = this.options.leaseTtl;
    const until = Date.now() + maxHold;
    const timer = setInterval(
      () => {
        const left = until - Date.now();
        if (left <= 0) return clearInterval(timer);
        void this.tier.extend(redisKey, token, Math.min(ttl, left));
      },
      Math.max(10, Math.floor(ttl / 3)),
    );
    timer.unref();
    return work.finally(() => clearInterval(timer));
  }

  /**
   * Stores the loaded value if the lease is still ours and no clear came after `since` (the
   * load's start, see `SharedTier.fill`); false if not, undefined if not known. The announcement
   * goes out when someone waits, or with `always`.
   */
  async fill(
    redisKey: string,
    token: string,
    raw: Raw,
    ttl: number,
    channel: string,
    message: string,
    since: number,
    always: boolean,
  ): Promise<boolean | undefined> {
    const r = await this.tier.fill(redisKey, token, raw, ttl, channel, message, since, always);
    return r === FAILED ? undefined : r;
  }

  /** Frees the lease if it is still ours; sent even while the circuit breaker is open. */
  release(redisKey: string, token: string): Promise<unknown> {
    return this.tier.release(redisKey, token);
  }

  /** Shutdown: every waiter stops waiting (and runs its loader), and none starts waiting. */
  close(): void {
    this.#closed = true;
    this.wakeAll();
  }

  /** Wakes every waiter (Redis in trouble: the holder's result may never be announced). */
  wakeAll(): void {
    for (const key of [...this.#wakers.keys()]) this.wake(key);
  }

  /** Wakes this instance's waiter for `key` (a value was stored, or the lease freed or evicted). */
  wake(key: string): void {
    this.#announced.set(key, performance.now());
    const set = this.#wakers.get(key);
    if (set === undefined) return;
    this.#wakers.delete(key);
    for (const w of set) w();
  }

  #sleepUntilWoken(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#wakers.get(key);
      if (set === undefined) this.#wakers.set(key, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        set!.delete(done);
        if (set!.size === 0 && this.#wakers.get(key) === set) this.#wakers.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }
}
