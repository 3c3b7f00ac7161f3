import { createHash } from 'node:crypto';

const HASH_LENGTH = 43; // SHA-256 in base64url

/**
 * The Redis key of an entry: `${keyPrefix}{${key}}`. The braces are a Redis Cluster hash tag, so
 * the entry's lease and metadata keys (same braces, another suffix) land in its hash slot.
 * A key longer than `maxKeyLength` (or starting with `}`) keeps its start (so namespace
 * evictions still find it) and ends in `#` + the SHA-256 of the whole key.
 */
export function toRedisKey(prefix: string, key: string, maxKeyLength: number): string {
  // A key starting with '}' would make an empty hash tag ('{}'): Redis would then hash the whole
  // name, putting the entry and its lease in different slots. Such keys take the hashed form.
  if (key.length <= maxKeyLength && key.charCodeAt(0) !== 125 /* } */) return `${prefix}{${key}}`;
  const head = key.charCodeAt(0) === 125 ? '' : key.slice(0, Math.max(0, maxKeyLength - HASH_LENGTH));
  return `${prefix}{${head}#${createHash('sha256').update(key).digest('base64url')}}`;
}

/** Throws a TypeError naming the problem unless `key` is a non-empty string. */
export function assertKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(
      `nestjs-tiered-cache: ${where} needs a non-empty string key; got ${key === '' ? "''" : String(key)}`,
    );
  }
}

/** Escapes Redis glob characters so a literal prefix can be used in `SCAN MATCH`. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
