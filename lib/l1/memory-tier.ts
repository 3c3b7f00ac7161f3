import { LRUCache } from 'lru-cache';
import type { ResolvedOptions } from '../options/resolve-options.js';

/** One L1 entry. `value` is the cached object itself: L1 hands out references, never copies. */
export interface L1Entry {
  value: unknown;
  /** When its load started (or when it was set), epoch milliseconds: tag invalidations compare to it. */
  createdAt: number;
  /** Logical expiry, epoch milliseconds. */
  expiresAt: number;
  /** End of the grace period; equal to `expiresAt` when the entry has none. */
  staleUntil: number;
  /** How long its load took, in milliseconds (for early refresh). */
  delta: number;
  tags?: readonly string[];
  /** The tag registry version this entry was last found valid at (skips re-checking its tags); -1: never. */
  tagCheck: number;
  /**
   * Until when (epoch milliseconds) this entry's tags may be checked against the tag times known
   * here: a copy read from the shared tier with tag times trusted since they were last read ends
   * with that trust, so it cannot carry them past `l1.ttl` (`Infinity` otherwise).
   */
  tagsTrustedUntil: number;
  /** Serialized size in bytes when known (for `l1.maxSize`). */
  size: number;
}

/**
 * Builds an L1 entry. Every entry has the same fields in the same order (one hidden class), so
 * the property reads on the L1 hit path stay monomorphic whether an entry came from a load or from
 * Redis, with tags or without.
 */
export function l1Entry(
  value: unknown,
  createdAt: number,
  expiresAt: number,
  staleUntil: number,
  delta: number,
  size: number,
  tags: readonly string[] | undefined,
): L1Entry {
  return { value, createdAt, expiresAt, staleUntil, delta, size, tags, tagCheck: -1, tagsTrustedUntil: Number.POSITIVE_INFINITY };
}

/** The in-process tier: lru-cache bounded by entries (and bytes when `maxSize` is set). */
export class MemoryTier {
  readonly #lru: LRUCache<string, L1Entry>;
  /** Whether entries need a size (`maxSize` is set). */
  readonly sized: boolean;

  constructor(options: Exclude<ResolvedOptions['l1'], false>) {
    this.sized = options.maxSize !== undefined;
    const userSize = options.sizeCalculation;
    this.#lru = new LRUCache<string, L1Entry>({
      max: options.max,
      ttl: options.ttl,
      // Expiry is checked on read (no timers): an idle cache costs nothing.
      ttlAutopurge: false,
      ...(this.sized
        ? {
            maxSize: options.maxSize,
            sizeCalculation: userSize ? (entry: L1Entry, key: string) => Math.max(1, userSize(entry.value, key)) : (entry: L1Entry) => Math.max(1, entry.size),
          }
        : {}),
    });
  }

  get(key: string): L1Entry | undefined {
    return this.#lru.get(key);
  }

  /** Stores an entry for `ttl` milliseconds (clamped to at least 1). */
  set(key: string, entry: L1Entry, ttl: number): void {
    // An entry bigger than maxSize is refused by lru-cache: it then simply is not held in L1.
    this.#lru.set(key, entry, { ttl: Math.max(1, Math.floor(ttl)) });
  }

  delete(key: string): void {
    this.#lru.delete(key);
  }

  /** Deletes every key that passes `test` (O(entries); for namespace evictions). */
  deleteWhere(test: (key: string) => boolean): void {
    for (const key of [...this.#lru.keys()]) if (test(key)) this.#lru.delete(key);
  }

  clear(): void {
    this.#lru.clear();
  }

  get size(): number {
    return this.#lru.size;
  }

  get bytes(): number {
    return this.sized ? this.#lru.calculatedSize : 0;
  }
}
