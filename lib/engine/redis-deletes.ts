import type { InvalidationBus } from '../bus/invalidation-bus.js';
import { escapeGlob } from '../keys/cache-key.util.js';
import { FAILED, type RedisTier } from '../l2/redis-tier.js';
import { leaseKey } from '../lease/fleet-lease.js';
import { Tombstones } from './tombstones.js';

/**
 * Deletes in Redis that must not be lost. Until Redis confirms one, the keys it covers are
 * tombstoned (this instance ignores what Redis holds for them), and the delete is retried every
 * second and when Redis recovers; once it lands, the other instances are told again, since one of
 * them may have read the old value back from Redis meanwhile.
 */
export class RedisDeletes {
  readonly #tombstones = new Tombstones();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly l2: RedisTier,
    private readonly bus: InvalidationBus | undefined,
    private readonly options: { keyPrefix: string; bus: boolean },
  ) {}

  /** Deletes entries (value and lease), given by user key and by Redis key. */
  async keys(keys: readonly string[], redisKeys: readonly string[]): Promise<void> {
    const at = Date.now();
    const all: string[] = [];
    redisKeys.forEach((rk, i) => {
      all.push(rk, leaseKey(rk));
      this.#tombstones.add(rk, at, keys[i]!);
    });
    if ((await this.l2.del(all)) === FAILED) return this.#schedule();
    for (const rk of redisKeys) this.#tombstones.remove(rk, at);
  }

  /** Deletes every key under a Redis key prefix (SCAN + UNLINK on every primary). */
  async prefix(prefix: string): Promise<void> {
    const at = Date.now();
    this.#tombstones.addPattern(prefix, at);
    if ((await this.l2.deleteMatching(`${escapeGlob(prefix)}*`)) === FAILED) return this.#schedule();
    this.#tombstones.removePattern(prefix, at);
  }

  /** Whether an entry written at `createdAt` predates a delete Redis has not confirmed. */
  hides(redisKey: string, createdAt: number): boolean {
    return this.#tombstones.hides(redisKey, createdAt);
  }

  /** Redoes what Redis did not confirm (and the bus messages that did not go out). */
  async retry(): Promise<void> {
    this.bus?.retry();
    const evicted: string[] = [];
    for (const [rk, [at, key]] of this.#tombstones.keys()) {
      if ((await this.l2.del([rk, leaseKey(rk)])) === FAILED) continue;
      this.#tombstones.remove(rk, at);
      evicted.push(key);
    }
    if (evicted.length > 0 && this.options.bus) this.bus?.publish('del', evicted);
    const root = `${this.options.keyPrefix}{`;
    for (const [prefix, at] of this.#tombstones.patterns()) {
      if ((await this.l2.deleteMatching(`${escapeGlob(prefix)}*`)) === FAILED) continue;
      this.#tombstones.removePattern(prefix, at);
      if (!this.options.bus) continue;
      if (prefix === root) this.bus?.publish('clear');
      else this.bus?.publish('ns', [prefix.slice(root.length)]);
    }
    if (this.#tombstones.size > 0 || (this.bus?.pending ?? 0) > 0) this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** Retries every second until everything landed (besides on recovery). */
  #schedule(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.l2.connected) void this.retry();
      else this.#schedule();
    }, 1_000);
    this.#timer.unref();
  }
}
