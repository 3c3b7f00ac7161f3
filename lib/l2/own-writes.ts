import type { Raw } from '../shared/shared-tier.interface.js';

/** Most keys remembered; past it the oldest go (their echoes are then simply reported). */
const MAX = 10_000;
/** How long a write's echo is expected, in milliseconds. */
const WINDOW_MS = 5_000;

/**
 * The bytes this instance last wrote to each value key, for a few seconds. Redis reports a write
 * made inside a Lua script (every value write of the library: fill, put) back to the connection
 * that made it, `NOLOOP` notwithstanding (observed on Redis 7.0: broadcast tracking records the
 * script's client as the writer). Such an echo would drop the writer's own fresh L1 copy; instead,
 * a report about a key written here is checked against what Redis holds now.
 */
export class OwnWrites {
  readonly #writes = new Map<string, { raw: Raw; at: number }>();

  record(key: string, raw: Raw): void {
    this.#writes.delete(key);
    this.#writes.set(key, { raw, at: Date.now() });
    if (this.#writes.size > MAX) this.#writes.delete(this.#writes.keys().next().value!);
  }

  /** The bytes last written to `key` here, if that was recent. */
  recent(key: string): Raw | undefined {
    const w = this.#writes.get(key);
    if (w === undefined) return undefined;
    if (Date.now() - w.at <= WINDOW_MS) return w.raw;
    this.#writes.delete(key);
    return undefined;
  }
}

/** Whether what Redis holds is exactly `raw`. */
export function sameBytes(stored: Buffer | null, raw: Raw): boolean {
  if (stored === null) return false;
  return typeof raw === 'string' ? stored.length === Buffer.byteLength(raw) && stored.toString() === raw : stored.equals(raw);
}
