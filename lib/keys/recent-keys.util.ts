/**
 * A value for each of the keys set most recently: at least the latest `max / 2` keys, never more
 * than `max` (two generations; when the newer one holds `max / 2` keys, the older is dropped
 * whole and the newer takes its place). For bookkeeping that may forget its oldest keys.
 *
 * Not a `Map` that drops its oldest key on every set (`map.delete(map.keys().next().value)`): V8
 * leaves deleted entries at the front of the table until it rehashes, and every `keys()` walks
 * over them — ~6 µs per set at 10 000 keys against ~0.2 µs here (`bench/tools/map-queue.mjs`), which was
 * ~5 µs of every cache miss's CPU (bench/ANALYSIS.md, "A map used as a queue").
 */
export class RecentKeys<V> {
  #newer = new Map<string, V>();
  #older = new Map<string, V>();
  readonly #half: number;

  /** `max`: most keys held (at least 2). */
  constructor(max: number) {
    this.#half = Math.max(1, Math.floor(max / 2));
  }

  /** The value last set for `key`, unless forgotten or deleted. `undefined` values are not held. */
  get(key: string): V | undefined {
    return this.#newer.get(key) ?? this.#older.get(key);
  }

  /** Sets `key` as the newest key. */
  set(key: string, value: V): void {
    this.#older.delete(key);
    this.#newer.set(key, value);
    if (this.#newer.size >= this.#half) {
      this.#older = this.#newer;
      this.#newer = new Map();
    }
  }

  delete(key: string): void {
    this.#newer.delete(key);
    this.#older.delete(key);
  }

  clear(): void {
    this.#newer.clear();
    this.#older.clear();
  }

  /** How many keys are held. */
  get size(): number {
    return this.#newer.size + this.#older.size;
  }
}
