/** Most key tombstones kept; past it the oldest are forgotten (their entries expire by TTL). */
const MAX_KEYS = 100_000;

/**
 * Deletes that Redis has not confirmed yet (it was down or slow). Until a retry succeeds, this
 * instance treats entries written to Redis before the delete as misses, so an eviction that
 * resolved is never undone by reading Redis.
 */
export class Tombstones {
  /** Redis key → [time of the delete, the user's key it came from]. */
  readonly #keys = new Map<string, [number, string]>();
  readonly #patterns = new Map<string, number>();

  add(redisKey: string, at: number, key: string): void {
    if (this.#keys.size >= MAX_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(redisKey, [at, key]);
  }

  remove(redisKey: string, at: number): void {
    if (this.#keys.get(redisKey)?.[0] === at) this.#keys.delete(redisKey);
  }

  get size(): number {
    return this.#keys.size + this.#patterns.size;
  }

  addPattern(prefix: string, at: number): void {
    this.#patterns.set(prefix, at);
  }

  removePattern(prefix: string, at: number): void {
    if (this.#patterns.get(prefix) === at) this.#patterns.delete(prefix);
  }

  /** Whether an entry of `redisKey` written at `createdAt` predates an unconfirmed delete. */
  hides(redisKey: string, createdAt: number): boolean {
    if (this.#keys.size === 0 && this.#patterns.size === 0) return false;
    const at = this.#keys.get(redisKey)?.[0];
    if (at !== undefined && createdAt <= at) return true;
    for (const [prefix, t] of this.#patterns) if (createdAt <= t && redisKey.startsWith(prefix)) return true;
    return false;
  }

  keys(): [string, [number, string]][] {
    return [...this.#keys];
  }

  patterns(): [string, number][] {
    return [...this.#patterns];
  }
}
