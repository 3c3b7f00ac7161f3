import { RecentKeys } from '../keys/recent-keys.util.js';
import type { Raw } from '../shared/shared-tier.interface.js';

/** Most keys remembered (at least the latest half); older ones go (their echoes are then simply reported). */
const MAX = 10_000;
/** How long a write's echo is expected, in milliseconds. */
const WINDOW_MS = 5_000;

/**
 * What this instance last made of each value key — the bytes it wrote, or null for a delete — for
 * a few seconds. Redis reports a change made inside a Lua script (every value write and delete of
 * the library) back to the connection that made it, `NOLOOP` notwithstanding (observed on Redis
 * 7.0: broadcast tracking records the script's client as the writer). Obeyed, such an echo would
 * drop the writer's own fresh L1 copy, or stop its next load from storing; instead, a report about
 * a key changed here is checked against what Redis holds now.
 */
export class OwnWrites {
  readonly #writes = new RecentKeys<{ raw: Raw | null; at: number }>(MAX);

  record(key: string, raw: Raw | null): void {
    this.#writes.set(key, { raw, at: Date.now() });
  }

  /** The bytes last written to `key` here (null: deleted), if that was recent. */
  recent(key: string): Raw | null | undefined {
    const w = this.#writes.get(key);
    if (w === undefined) return undefined;
    if (Date.now() - w.at <= WINDOW_MS) return w.raw;
    this.#writes.delete(key);
    return undefined;
  }
}

/** Whether what Redis holds is exactly `raw` (null: nothing). */
export function sameBytes(stored: Buffer | null, raw: Raw | null): boolean {
  if (stored === null || raw === null) return stored === raw;
  return typeof raw === 'string' ? stored.length === Buffer.byteLength(raw) && stored.toString() === raw : stored.equals(raw);
}
