import { type Codec, CorruptEntryError, UnserializableValueError } from './envelope.js';

/** Thrown by `encode` for an entry over `maxValueBytes`: it is not cached, the caller keeps its result. */
export class OversizedValueError extends UnserializableValueError {}

/** Thrown by `decode` for stored bytes over `maxValueBytes`: read as a corrupt entry (a miss). */
export class OversizedEntryError extends CorruptEntryError {}

/**
 * `codec` with both directions bounded by `maxBytes`. Whoever can write to Redis can plant a
 * value of any size (up to Redis's 512 MB); decoding it would block the event loop and allocate
 * several times its size. The bytes have crossed the wire by then, but the parse, the objects
 * it builds and every later read of the planted value are what the cap saves.
 */
export function limitSize(codec: Codec, maxBytes: number): Codec {
  return {
    binary: codec.binary,
    encode(envelope) {
      const raw = codec.encode(envelope);
      const size = overBy(raw, maxBytes);
      if (size !== undefined) {
        throw new OversizedValueError(`it encodes to ${size} bytes, over maxValueBytes (${maxBytes}); raise maxValueBytes to cache values this large`);
      }
      return raw;
    },
    decode(raw) {
      const size = overBy(raw, maxBytes);
      if (size !== undefined) throw new OversizedEntryError(`it is ${size} bytes, over maxValueBytes (${maxBytes})`);
      return codec.decode(raw);
    },
  };
}

/** The size of `raw` in bytes when it exceeds `max`, else undefined. */
function overBy(raw: string | Buffer, max: number): number | undefined {
  if (typeof raw !== 'string') return raw.length > max ? raw.length : undefined;
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most strings are decided without counting.
  if (raw.length * 3 <= max) return undefined;
  if (raw.length > max) return Buffer.byteLength(raw, 'utf8');
  const size = Buffer.byteLength(raw, 'utf8');
  return size > max ? size : undefined;
}
