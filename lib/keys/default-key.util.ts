/**
 * Canonical JSON of a method's arguments, for default keys: object keys sorted (so `{a,b}` and
 * `{b,a}` give one key), `undefined` kept, `Date` as its ISO time, `BigInt` as `"<n>n"`, `Map` and
 * `Set` as sorted entries. Throws `TypeError` for what has no stable form (functions, symbols,
 * circular structures): the method then runs uncached and a warning is logged.
 */
export function canonicalArgs(args: readonly unknown[]): string {
  return canonical(args, new Set());
}

function canonical(v: unknown, seen: Set<object>): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : `"${String(v)}"`;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `"${v}n"`;
    case 'function':
    case 'symbol':
      throw new TypeError(`a ${typeof v} argument has no stable cache key; give @Cacheable a key function`);
  }
  if (v === null) return 'null';
  const o = v as object;
  if (seen.has(o)) throw new TypeError('a circular argument has no stable cache key; give @Cacheable a key function');
  seen.add(o);
  try {
    if (Array.isArray(o)) return `[${o.map((x) => canonical(x, seen)).join(',')}]`;
    if (o instanceof Date) return JSON.stringify(Number.isNaN(o.getTime()) ? 'Invalid Date' : o.toISOString());
    if (o instanceof Map) {
      const entries = [...o].map(([k, x]) => `[${canonical(k, seen)},${canonical(x, seen)}]`).sort();
      return `{"Map":[${entries.join(',')}]}`;
    }
    if (o instanceof Set) return `{"Set":[${[...o].map((x) => canonical(x, seen)).sort().join(',')}]}`;
    const json = (o as { toJSON?: () => unknown }).toJSON;
    if (typeof json === 'function') return canonical(json.call(o), seen);
    const keys = Object.keys(o).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((o as Record<string, unknown>)[k], seen)}`).join(',')}}`;
  } finally {
    seen.delete(o);
  }
}
