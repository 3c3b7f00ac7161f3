import type { L1Entry } from '../l1/memory-tier.js';
import { FAILED, type SharedTier } from '../shared/shared-tier.interface.js';
import { TagRegistry } from './tag-registry.js';

/**
 * Tag invalidation: one timestamp per tag, in the shared tier (`${keyPrefix}__tag:{tag}`, expiring
 * after `tagTtl`, written through `DurableWrites`) and known locally (from this instance's
 * invalidations, the bus, or read from the shared tier on first need). An entry created at or
 * before one of its tags' timestamps is stale. What is known locally is re-read after `knownFor`
 * ms, so an instance that missed a bus message trusts an old timestamp for no longer than that.
 */
export class TagIndex {
  readonly #registry: TagRegistry;

  constructor(
    private readonly shared: SharedTier,
    private readonly keyPrefix: string,
    knownFor: number,
  ) {
    this.#registry = new TagRegistry(knownFor);
  }

  /** The shared tier's key of a tag's invalidation marker. */
  markerKey(tag: string): string {
    return `${this.keyPrefix}__tag:{${tag}}`;
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
    // A copy of a shared-tier entry whose tag times were trusted, not read: past that trust its
    // tags must be read again there (see `trustedUntil`). Entries loaded or set here skip the
    // clock read (their L1 hit costs what it did).
    if (e.tagsTrustedUntil !== Number.POSITIVE_INFINITY && e.tagsTrustedUntil <= Date.now()) return true;
    const { watermark, version } = this.#registry;
    if (e.createdAt > watermark || e.tagCheck === version) return false;
    const verdict = this.#registry.isStale(e.tags!, e.createdAt);
    const stale = verdict === undefined ? !this.#registry.trustsUnknown(e.createdAt) : verdict;
    if (!stale) e.tagCheck = version;
    return stale;
  }

  /**
   * Until when (epoch ms) a copy of an entry read from the shared tier may be checked against
   * the tag times known here (checked by `staleInL2` just before). An instance that missed a
   * tag's invalidation (bus down, or `bus: false`) trusts the time it knows for `knownFor`; a
   * copy put in L1 near the end of that trust must not live a whole `l1Ttl` past it, or it would
   * serve an invalidated entry for up to twice `l1.ttl`.
   */
  trustedUntil(tags: readonly string[]): number {
    return this.#registry.trustedUntil(tags);
  }

  /**
   * For an entry read from Redis: whether a tag invalidates it — at once when every tag is known
   * here, else after fetching the unknown ones.
   */
  staleInL2(tags: readonly string[], createdAt: number): boolean | Promise<boolean> {
    const unknown = this.#registry.unknown(tags);
    if (unknown === undefined) return this.#registry.isStale(tags, createdAt) !== false;
    return this.shared.getMarkers(unknown.map((t) => this.markerKey(t))).then((ats) => {
      // A tag that cannot be checked makes the entry a miss: never serve what may be invalidated.
      if (ats === FAILED) return true;
      unknown.forEach((t, i) => {
        this.#registry.set(t, Number(ats[i] ?? 0));
      });
      return this.#registry.isStale(tags, createdAt) !== false;
    });
  }
}
