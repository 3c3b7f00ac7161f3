import { RecentKeys } from '../keys/recent-keys.util.js';

const OPEN_BRACE = 123; // '{'
const CLOSE_BRACE = 125; // '}'
const HASH_MARK = 35; // '#'
const HASH_LENGTH = 43;
const TAG = '__tag:{';

/** What a storage key reported by tracking stands for here. */
export type TrackedKey = { key: string } | { hashed: string } | { tag: string } | undefined;

/**
 * Storage keys back to this engine's keys, for server-assisted invalidation. An entry is stored
 * as `${keyPrefix}{${key}}`, so its key is read off the name — except for long keys, stored under
 * a hash (`toRedisKey`), which are remembered when the engine names them: a bounded map, the
 * oldest forgotten first (the engine then finds a forgotten one by scanning L1). Tag markers
 * (`${keyPrefix}__tag:{tag}`) name their tag; leases, write versions, the bus and the keys of
 * other prefixes that start with this one are not entries.
 */
export class TrackedKeys {
  readonly #hashed: RecentKeys<string>;

  /** `max`: most hashed keys remembered (at least the latest half). */
  constructor(
    private readonly prefix: string,
    max: number,
  ) {
    this.#hashed = new RecentKeys(max);
  }

  /** Remembers the key behind a storage key, when the name does not tell it (a hashed key). */
  remember(storageKey: string, key: string): void {
    const p = this.prefix.length;
    if (storageKey.length === p + key.length + 2 && storageKey.startsWith(key, p + 1)) return;
    this.#hashed.set(storageKey, key);
  }

  resolve(storageKey: string): TrackedKey {
    const p = this.prefix.length;
    const n = storageKey.length;
    if (!storageKey.startsWith(this.prefix) || n < p + 2) return undefined;
    if (storageKey.charCodeAt(p) === OPEN_BRACE) {
      // A value key ends with its brace; `…}:lease` and `…}:ver` do not.
      if (storageKey.charCodeAt(n - 1) !== CLOSE_BRACE) return undefined;
      if (n - p - 2 > HASH_LENGTH && storageKey.charCodeAt(n - HASH_LENGTH - 2) === HASH_MARK) {
        const key = this.#hashed.get(storageKey);
        return key !== undefined ? { key } : { hashed: storageKey };
      }
      return { key: storageKey.slice(p + 1, n - 1) };
    }
    if (storageKey.startsWith(TAG, p) && storageKey.charCodeAt(n - 1) === CLOSE_BRACE) {
      return { tag: storageKey.slice(p + TAG.length, n - 1) };
    }
    return undefined;
  }

  clear(): void {
    this.#hashed.clear();
  }
}
