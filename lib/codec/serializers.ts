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
    let parsed: unknown;
    try {
      parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
    } catch (err) {
      throw new CorruptEntryError((err as Error).message);
    }
    return fromWire(parsed);
  },
};

/** msgpackr with structured cloning: keeps Date, Map, Set, BigInt, binary and cycles. */
async function msgpackCodec(): Promise<Codec> {
  let mod: typeof import('msgpackr');
  try {
    mod = await import('msgpackr');
  } catch {
    throw new TieredCacheConfigError(
      'nestjs-tiered-cache: serializer "msgpack" needs the msgpackr package: npm install msgpackr.',
    );
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
      return Buffer.concat([Buffer.from(JSON.stringify(wire) + '\n'), Buffer.from(payload)]);
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

export async function createCodec(option: SerializerOption): Promise<Codec> {
  if (option === 'json') return jsonCodec;
  if (option === 'msgpack') return msgpackCodec();
  return customCodec(option);
}
