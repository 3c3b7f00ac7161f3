import { ENVELOPE_VERSION } from '../tiered-cache.constants.js';

/** What the cache stores for one key, in either tier. Times are epoch milliseconds. */
export interface Envelope {
  value: unknown;
  createdAt: number;
  /** Logical expiry: past it the entry is stale. */
  expiresAt: number;
  /** End of the grace period (>= expiresAt): until then a stale value can still be served. */
  staleUntil: number;
  /** How long the load that produced the value took, in milliseconds (0 for a plain `set`). */
  delta: number;
  /** Tags the entry was stored with; invalidating one of them invalidates the entry. */
  tags?: readonly string[];
}

/** Turns envelopes into what Redis stores, and back. `decode` throws on anything malformed. */
export interface Codec {
  /** Whether `decode` wants a Buffer (binary formats) rather than a UTF-8 string. */
  readonly binary: boolean;
  encode(envelope: Envelope): string | Buffer;
  decode(raw: string | Buffer): Envelope;
}

/** Thrown when a value cannot be represented by the serializer; the caller's result is kept. */
export class UnserializableValueError extends Error {
  override readonly name = 'UnserializableValueError';
}

/** Thrown by `decode` for bytes that are not an envelope of this version. */
export class CorruptEntryError extends Error {
  override readonly name = 'CorruptEntryError';
}

// The wire form is one array, so the payload is encoded once, in one pass:
// [version, kind, createdAt, expiresAt, staleUntil, delta, tags (0 for none), value]. `kind`
// keeps null and undefined apart, which JSON alone cannot.
export const VALUE_KIND = 0;
export const NULL_KIND = 1;
export const UNDEFINED_KIND = 2;
const VALUE = VALUE_KIND;
const NULL = NULL_KIND;
const UNDEFINED = UNDEFINED_KIND;

export type WireArray = [string, number, number, number, number, number, readonly string[] | 0, unknown];

/** Index of the value in the wire array; everything before it is the header. */
export const VALUE_INDEX = 7;

export function toWire(e: Envelope): WireArray {
  const v = e.value;
  if (typeof v === 'function' || typeof v === 'symbol') {
    throw new UnserializableValueError(`a ${typeof v} cannot be cached`);
  }
  const kind = v === null ? NULL : v === undefined ? UNDEFINED : VALUE;
  const tags = e.tags !== undefined && e.tags.length > 0 ? e.tags : 0;
  return [ENVELOPE_VERSION, kind, e.createdAt, e.expiresAt, e.staleUntil, e.delta, tags, kind === VALUE ? v : 0];
}

export function fromWire(w: unknown): Envelope {
  if (
    !Array.isArray(w) ||
    w.length !== 8 ||
    w[0] !== ENVELOPE_VERSION ||
    // Finite: a planted NaN or Infinity (msgpack can carry them) would make expiry checks and
    // L1 lifetimes meaningless.
    !Number.isFinite(w[2]) ||
    !Number.isFinite(w[3]) ||
    !Number.isFinite(w[4]) ||
    !Number.isFinite(w[5]) ||
    (w[6] !== 0 && !(Array.isArray(w[6]) && w[6].every((t) => typeof t === 'string')))
  ) {
    throw new CorruptEntryError('not a cache envelope of this version');
  }
  const kind = w[1];
  const value = kind === VALUE ? w[7] : kind === NULL ? null : kind === UNDEFINED ? undefined : corrupt();
  const e: Envelope = { value, createdAt: w[2], expiresAt: w[3], staleUntil: w[4], delta: w[5] };
  if (w[6] !== 0) e.tags = w[6];
  return e;
}

function corrupt(): never {
  throw new CorruptEntryError('unknown value kind');
}
