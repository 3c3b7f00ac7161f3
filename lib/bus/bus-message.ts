/** Wire format version of bus messages; it is part of the channel name. */
export const BUS_VERSION = 'v1';

/**
 * One invalidation on the bus. Never carries values: receivers drop their L1 copy and read Redis.
 * - `set`/`del`: keys `k` changed or were evicted; `fill`: a load stored keys `k` (wakes waiters)
 * - `release`: a lease on keys `k` was freed without a value (the load failed)
 * - `ns`: every key starting with `k[0]` was evicted; `clear`: everything
 * - `tags`: tags `k` were invalidated at time `t` (epoch ms)
 */
export interface BusMessage {
  /** Sender's instance id: an instance ignores its own messages. */
  i: string;
  o: 'set' | 'del' | 'fill' | 'release' | 'ns' | 'clear' | 'tags';
  k?: readonly string[];
  t?: number;
}

export function busChannel(keyPrefix: string): string {
  return `${keyPrefix}__bus:${BUS_VERSION}`;
}

/**
 * How far ahead of this instance's clock a tag invalidation time may be (clock skew between
 * instances). A later one is refused: a forged far-future time would hide a tag's entries until
 * the next bus gap.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;

const OPERATIONS = new Set<string>(['set', 'del', 'fill', 'release', 'ns', 'clear', 'tags']);

/** A message from the wire, or undefined for anything that is not one (never thrown). */
export function parseBusMessage(raw: string): BusMessage | undefined {
  try {
    const m = JSON.parse(raw) as BusMessage;
    if (typeof m !== 'object' || m === null || typeof m.i !== 'string' || !OPERATIONS.has(m.o)) return undefined;
    if (m.k !== undefined && !(Array.isArray(m.k) && m.k.every((k) => typeof k === 'string'))) return undefined;
    if (m.o === 'tags' && !(typeof m.t === 'number' && Number.isFinite(m.t) && m.t <= Date.now() + MAX_CLOCK_SKEW_MS)) return undefined;
    return m;
  } catch {
    return undefined;
  }
}
