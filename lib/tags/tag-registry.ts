import { LRUCache } from 'lru-cache';

/**
 * What this instance knows of tag invalidations: tag → time it was last invalidated (epoch ms; 0
 * if never). Filled from Redis on first need and kept current by the bus. An entry created at or
 * before its tag's invalidation is stale.
 */
export class TagRegistry {
  /** Made on the first tag learnt: lru-cache allocates its `max` slots up front (megabytes). */
  #known: LRUCache<string, Known> | undefined;
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
   * @param knownFor how long a timestamp is trusted as the latest before it is read again from the
   *   shared tier (for entries read from there), in milliseconds. It is kept meanwhile: an
   *   invalidation time only grows, so an old one still condemns the entries created before it —
   *   L1 entries may outlive `knownFor` (a per-call `l1Ttl`, or no shared tier at all), and
   *   forgetting it by age served them again. Only timestamps forgotten for room make older
   *   entries untrusted.
   */
  constructor(knownFor: number, max = 100_000) {
    this.#knownFor = knownFor;
    this.#max = max;
  }

  #lru(): LRUCache<string, Known> {
    return (this.#known ??= new LRUCache<string, Known>({
      max: this.#max,
      dispose: ({ at }, _tag, reason) => {
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
      const at = known.peek(tag)?.at;
      if (at === undefined) unknown = true;
      else if (createdAt <= at) return true;
    }
    return unknown ? undefined : false;
  }

  /** Tags of an entry to read (again) from the shared tier: unknown, or known for `knownFor`; undefined when none. */
  unknown(tags: readonly string[]): string[] | undefined {
    const known = this.#known;
    if (known === undefined) return tags.length > 0 ? [...tags] : undefined;
    const before = Date.now() - this.#knownFor;
    let out: string[] | undefined;
    for (const tag of tags) {
      const k = known.peek(tag);
      if (k === undefined || k.learnedAt <= before) (out ??= []).push(tag);
    }
    return out;
  }

  /**
   * Until when (epoch ms) every one of `tags` is trusted without reading it again: the earliest
   * time one of them was learnt, plus `knownFor`; 0 if one is not known.
   */
  trustedUntil(tags: readonly string[]): number {
    let until = Number.POSITIVE_INFINITY;
    for (const tag of tags) {
      const learnedAt = this.#known?.peek(tag)?.learnedAt;
      if (learnedAt === undefined) return 0;
      until = Math.min(until, learnedAt + this.#knownFor);
    }
    return until;
  }

  /** Whether an L1 entry with unknown tags can be trusted (it is newer than anything forgotten). */
  trustsUnknown(createdAt: number): boolean {
    return createdAt > this.#forgottenUpTo;
  }

  set(tag: string, at: number): void {
    const known = this.#lru();
    const prev = known.peek(tag);
    if (prev !== undefined) {
      prev.learnedAt = Date.now();
      if (at <= prev.at) return;
    }
    known.set(tag, { at, learnedAt: Date.now() });
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

/** A tag's latest invalidation time known here, and when it was last learnt (both epoch ms). */
interface Known {
  at: number;
  learnedAt: number;
}
