import { LRUCache } from 'lru-cache';

/**
 * What this instance knows of tag invalidations: tag → time it was last invalidated (epoch ms; 0
 * if never). Filled from Redis on first need and kept current by the bus. An entry created at or
 * before its tag's invalidation is stale.
 */
export class TagRegistry {
  /** Made on the first tag learnt: lru-cache allocates its `max` slots up front (megabytes). */
  #known: LRUCache<string, number> | undefined;
  readonly #knownFor: number;
  readonly #max: number;
  /** The latest invalidation time among forgotten tags: entries older than it need a re-check. */
  #forgottenUpTo = 0;
  /**
   * No entry created after this can be stale by its tags: the latest invalidation time known,
   * or forgotten. Lets the L1 hit path skip per-tag lookups (the usual case).
   */
  watermark = 0;
  /**
   * Bumped by every change of what is known (an invalidation, a forgotten tag), even one in the
   * same millisecond as the watermark: an entry checked at one version is checked again at the next.
   */
  version = 0;

  /**
   * @param knownFor how long a timestamp is trusted before it is read again, in milliseconds. An
   *   L1 entry checked against it lives no longer than that either (it is `l1.ttl`), so only
   *   timestamps forgotten for room, not for age, make older entries untrusted.
   */
  constructor(knownFor: number, max = 100_000) {
    this.#knownFor = knownFor;
    this.#max = max;
  }

  #lru(): LRUCache<string, number> {
    return (this.#known ??= new LRUCache<string, number>({
      max: this.#max,
      ttl: this.#knownFor,
      dispose: (at, _tag, reason) => {
        if (reason !== 'evict') return;
        if (at > this.#forgottenUpTo) this.#forgottenUpTo = at;
        if (at > this.watermark) this.watermark = at;
        this.version++;
      },
    }));
  }

  /**
   * Whether an entry with `tags` created at `createdAt` is stale: true, false, or undefined when
   * a tag is unknown here and the entry is old enough that the tag could matter.
   */
  isStale(tags: readonly string[], createdAt: number): boolean | undefined {
    const known = this.#known;
    if (known === undefined) return tags.length > 0 ? undefined : false;
    let unknown = false;
    for (const tag of tags) {
      const at = known.peek(tag);
      if (at === undefined) unknown = true;
      else if (createdAt <= at) return true;
    }
    return unknown ? undefined : false;
  }

  /** Unknown tags for an entry; undefined when none need fetching. */
  unknown(tags: readonly string[]): string[] | undefined {
    const known = this.#known;
    if (known === undefined) return tags.length > 0 ? [...tags] : undefined;
    let out: string[] | undefined;
    for (const tag of tags) if (!known.has(tag)) (out ??= []).push(tag);
    return out;
  }

  /** Whether an L1 entry with unknown tags can be trusted (it is newer than anything forgotten). */
  trustsUnknown(createdAt: number): boolean {
    return createdAt > this.#forgottenUpTo;
  }

  set(tag: string, at: number): void {
    const known = this.#lru();
    const prev = known.peek(tag);
    if (prev !== undefined && at <= prev) return;
    known.set(tag, at);
    if (at > this.watermark) this.watermark = at;
    this.version++;
  }

  clear(): void {
    this.#known?.clear();
    this.#forgottenUpTo = 0;
    this.watermark = 0;
    this.version++;
  }
}
