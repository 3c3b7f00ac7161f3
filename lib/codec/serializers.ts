import type { Serializer, SerializerOption } from '../interfaces/tiered-cache-options.interface.js';
import { TieredCacheConfigError } from '../errors.js';
import {
  type Codec,
  CorruptEntryError,
  type Envelope,
  fromWire,
  NULL_KIND,
  toWire,
  UNDEFINED_KIND,
  UnserializableValueError,
  VALUE_INDEX,
  VALUE_KIND,
} from './envelope.js';
import { limitSize } from './size-limit.js';

/** JSON: the envelope array in one `JSON.stringify`, read with one `JSON.parse`. */
export const jsonCodec: Codec = {
  binary: false,
  encode(e) {
    try {
      return JSON.stringify(toWire(e));
    } catch (err) {
      throw new UnserializableValueError((err as Error).message);
    }
  },
  decode(raw) {
    const text = typeof raw === 'string' ? raw : raw.toString('utf8');
    let parsed: unknown;
    try {
      parsed = mayNameProto(text) ? JSON.parse(text, dropProtoKeys) : JSON.parse(text);
    } catch (err) {
      throw new CorruptEntryError((err as Error).message);
    }
    return fromWire(parsed);
  },
};

/**
 * Whether `text` may hold a `"__proto__"` key, spelled out or with `\u` escapes. `JSON.parse`
 * makes such a key an own property, harmless by itself, but `Object.assign` or a deep merge of
 * the value would then replace the target's prototype. Such keys come from planted bytes (or a
 * value that was itself parsed from untrusted JSON), so the common parse stays plain and fast.
 */
function mayNameProto(text: string): boolean {
  return text.includes('__proto__') || text.includes('\\u');
}

function dropProtoKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

/**
 * msgpackr with structured cloning: keeps Date, Map, Set, BigInt, binary and cycles. Decoding
 * builds data only: msgpackr renames a `__proto__` key to `__proto_`, registers no class of ours,
 * and makes only the built-in error types.
 */
async function msgpackCodec(): Promise<Codec> {
  let mod: typeof import('msgpackr');
  try {
    mod = await import('msgpackr');
  } catch {
    throw new TieredCacheConfigError('nestjs-tiered-cache: serializer "msgpack" needs the msgpackr package: npm install msgpackr.');
  }
  const packr = new mod.Packr({ structuredClone: true });
  return {
    binary: true,
    encode(e) {
      try {
        return packr.pack(toWire(e));
      } catch (err) {
        throw new UnserializableValueError((err as Error).message);
      }
    },
    decode(raw) {
      let parsed: unknown;
      try {
        parsed = packr.unpack(typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw);
      } catch (err) {
        throw new CorruptEntryError((err as Error).message);
      }
      return fromWire(parsed);
    },
  };
}

/** A user serializer: a one-line JSON header, a newline, then the serializer's bytes. */
function customCodec(s: Serializer): Codec {
  return {
    binary: true,
    encode(e) {
      const wire: unknown[] = toWire({ ...e, value: undefined }).slice(0, VALUE_INDEX);
      let payload: string | Buffer;
      try {
        payload = e.value === undefined || e.value === null ? '' : s.serialize(e.value);
      } catch (err) {
        throw new UnserializableValueError((err as Error).message);
      }
      wire[1] = e.value === null ? NULL_KIND : e.value === undefined ? UNDEFINED_KIND : VALUE_KIND;
      return Buffer.concat([Buffer.from(`${JSON.stringify(wire)}\n`), Buffer.from(payload)]);
    },
    decode(raw) {
      const buf = typeof raw === 'string' ? Buffer.from(raw) : raw;
      const nl = buf.indexOf(0x0a);
      if (nl < 0) throw new CorruptEntryError('no envelope header');
      let header: unknown;
      try {
        header = JSON.parse(buf.subarray(0, nl).toString('utf8'));
      } catch (err) {
        throw new CorruptEntryError((err as Error).message);
      }
      const e: Envelope = fromWire([...(header as unknown[]), 0]);
      if ((header as unknown[])[1] === VALUE_KIND) {
        try {
          e.value = s.deserialize(buf.subarray(nl + 1));
        } catch (err) {
          throw new CorruptEntryError((err as Error).message);
        }
      }
      return e;
    },
  };
}

/** The codec of `option`, refusing entries over `maxValueBytes` both ways (see `limitSize`). */
export async function createCodec(option: SerializerOption, maxValueBytes: number): Promise<Codec> {
  const codec = option === 'json' ? jsonCodec : option === 'msgpack' ? await msgpackCodec() : customCodec(option);
  return limitSize(codec, maxValueBytes);
}
