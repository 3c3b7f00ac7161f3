import type { L1Entry } from '../l1/memory-tier.js';
import { FAILED, type RedisTier } from '../l2/redis-tier.js';
import { TagRegistry } from './tag-registry.js';

/**
 * Tag invalidation: one timestamp per tag, in Redis (`${keyPrefix}__tag:{tag}`, expiring after
 * `tagTtl`) and known locally (from this instance's invalidations, the bus, or read from Redis on
 * first need). An entry created at or before one of its tags' timestamps is stale.
 */
export class TagIndex {
  readonly #registry = new TagRegistry();

  constructor(
    private readonly l2: RedisTier | undefined,
    private readonly keyPrefix: string,
    private readonly tagTtl: number,
  ) {}

  /** Invalidates `tags` as of `at`: here at once, in Redis (one write per tag). */
  async invalidate(tags: readonly string[], at: number): Promise<void> {
    this.received(tags, at);
    const l2 = this.l2;
    if (!l2) return;
    await Promise.all(tags.map((t) => l2.exec((c) => c.set(this.#key(t), at, 'PX', this.tagTtl))));
  }

  /** An invalidation another instance announced. */
  received(tags: readonly string[], at: number): void {
    for (const t of tags) this.#registry.set(t, at);
  }

  /** Forgets everything (after a bus gap: invalidations may have been missed). */
  clear(): void {
    this.#registry.clear();
  }

  /**
   * Whether an L1 entry's tags were invalidated after it was created. Usually O(1): entries newer
   * than every known invalidation, or already checked against the latest one, skip the lookups.
   */
  staleInL1(e: L1Entry): boolean {
    const watermark = this.#registry.watermark;
    if (e.createdAt > watermark || e.tagCheck === watermark) return false;
    const verdict = this.#registry.isStale(e.tags!, e.createdAt);
    const stale = verdict === undefined ? !this.#registry.trustsUnknown(e.createdAt) : verdict;
    if (!stale) e.tagCheck = watermark;
    return stale;
  }

  /** For an entry read from Redis: fetches the tags this instance does not know yet, then checks. */
  async staleInL2(tags: readonly string[], createdAt: number): Promise<boolean> {
    const unknown = this.#registry.unknown(tags);
    if (unknown !== undefined) {
      const ats = await Promise.all(unknown.map((t) => this.l2!.exec((c) => c.get(this.#key(t)))));
      // A tag that cannot be checked makes the entry a miss: never serve what may be invalidated.
      if (ats.includes(FAILED)) return true;
      unknown.forEach((t, i) => this.#registry.set(t, Number(ats[i] ?? 0)));
    }
    return this.#registry.isStale(tags, createdAt) !== false;
  }

  #key(tag: string): string {
    return `${this.keyPrefix}__tag:{${tag}}`;
  }
}
