import { createHash } from 'node:crypto';

const HASH_LENGTH = 43; // SHA-256 in base64url
const HASH_MARK = 35; // '#'
const CLOSE_BRACE = 125; // '}'

/**
 * The Redis key of an entry: `${keyPrefix}{${key}}`. The braces are a Redis Cluster hash tag, so
 * the entry's lease and metadata keys (same braces, another suffix) land in its hash slot.
 *
 * A key longer than `maxKeyLength` is stored as `${keyPrefix}{${head}#${sha256(key)}}` (base64url,
 * 43 characters). The head runs up to and including the last `:` among the key's first
 * `maxKeyLength` characters, so every namespace prefix (`[context/]Namespace:`, which
 * `@CacheEvict({ allEntries: true })` deletes by) that fits in `maxKeyLength` is kept whole; a key
 * with no `:` there keeps its first `maxKeyLength - 44` characters. The stored name is therefore
 * at most `maxKeyLength + 44` characters long.
 *
 * Two more kinds of keys take the hashed form: a key starting with `}` (it would make an empty
 * hash tag `{}`, and Redis would then hash the whole name, parting the entry from its lease), and
 * a key that looks like a hashed form (`#` 44 characters before its end), so that no key given
 * as-is can name the entry of another, hashed key.
 */
export function toRedisKey(prefix: string, key: string, maxKeyLength: number): string {
  const n = key.length;
  if (n <= maxKeyLength && key.charCodeAt(0) !== CLOSE_BRACE && (n < HASH_LENGTH + 1 || key.charCodeAt(n - HASH_LENGTH - 1) !== HASH_MARK)) {
    return `${prefix}{${key}}`;
  }
  const limit = Math.floor(maxKeyLength);
  const colon = key.lastIndexOf(':', limit - 1);
  let head = colon >= 0 ? key.slice(0, colon + 1) : key.slice(0, Math.max(0, limit - HASH_LENGTH - 1));
  if (head.charCodeAt(0) === CLOSE_BRACE) head = '';
  return `${prefix}{${head}#${createHash('sha256').update(key).digest('base64url')}}`;
}

/** Throws a TypeError naming the problem unless `key` is a non-empty string. */
export function assertKey(key: unknown, where: string): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError(`nestjs-tiered-cache: ${where} needs a non-empty string key; got ${key === '' ? "''" : String(key)}`);
  }
}

/** Escapes Redis glob characters so a literal prefix can be used in `SCAN MATCH`. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}
