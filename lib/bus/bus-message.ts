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

export function parseBusMessage(raw: string): BusMessage | undefined {
  try {
    const m = JSON.parse(raw) as BusMessage;
    if (typeof m !== 'object' || m === null || typeof m.i !== 'string' || typeof m.o !== 'string') return undefined;
    if (m.k !== undefined && !(Array.isArray(m.k) && m.k.every((k) => typeof k === 'string'))) return undefined;
    return m;
  } catch {
    return undefined;
  }
}
