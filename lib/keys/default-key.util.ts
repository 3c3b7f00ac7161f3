/**
 * The canonical form of a method's arguments, for default keys (`Class:method:<canonicalArgs>`).
 *
 * Two argument lists get one form only if they hold the same values, type for type; everything
 * whose state the library cannot see throws a `TypeError`, and the method then runs uncached (a
 * warning is logged once). Plain data keeps its JSON spelling, so `find({ name: 'a' }, 10)` is
 * `[{"name":"a"},10]`; every other type carries a tag that no JSON value and no other type can
 * spell:
 *
 * | value | form |
 * | --- | --- |
 * | string, finite number, boolean, `null` | JSON: `"7"`, `7`, `true`, `null` |
 * | `undefined`, `NaN`, `Infinity`, `-Infinity`, `-0` | those words: `undefined`, `-0`, … |
 * | `bigint` | `10n` |
 * | array | `[…]`; a hole is `hole`, so `[,1]`, `[undefined,1]` and `[1]` differ |
 * | plain object (prototype `Object.prototype` or `null`) | `{"a":…,"b":…}`, keys sorted |
 * | `Date` | `Date("2024-01-01T00:00:00.000Z")`, an invalid one `Date(NaN)` |
 * | `Map`, `Set` | `Map{k=>v,…}`, `Set[…]`, entries sorted by their form |
 * | `RegExp` | `RegExp("source","flags",lastIndex)` |
 * | `Buffer`, typed arrays, `ArrayBuffer` | `Buffer(<bytes, base64url>)`, `Uint8Array(…)`, … |
 * | other object with a `toJSON()` method (`URL`, `Decimal`, …) | `toJSON("URL",<form of its toJSON()>)` |
 *
 * What counts as the same: plain objects whatever their key order (and whichever of the two
 * plain prototypes: a method reading the same own data gets the same answer, or throws, and
 * errors are not cached), `Map`s and `Set`s whatever their insertion order, and objects with a
 * `toJSON()` whose class names and `toJSON()` results are the same. Anything else differs.
 *
 * Throws `TypeError` for: functions, symbols, circular structures, boxed primitives, `Promise`,
 * `WeakMap`, `URLSearchParams`, `Error`, subclasses of the types above (unless they have a
 * `toJSON()`, as `Date` subclasses do), and every instance of a class without `toJSON()` — its state may live in `#private` fields, closures or getters that
 * no enumeration can see, so two instances that look alike may answer differently (a
 * `URLSearchParams` has no own enumerable property at all). That includes DTO class instances
 * made by `ValidationPipe({ transform: true })`: give such methods a `key` function, or the class
 * a `toJSON()`. Also throws for plain objects with enumerable symbol keys and arrays with
 * non-index properties, which the form would drop.
 */
export function canonicalArgs(args: readonly unknown[]): string {
  return encode(args, new Set());
}

const WORDS = new Map<unknown, string>([
  [undefined, 'undefined'],
  [Infinity, 'Infinity'],
  [-Infinity, '-Infinity'],
]);

const BINARY = new Map<object, string>(
  [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array].map(
    (c) => [c.prototype, c.name],
  ),
);

function encode(v: unknown, seen: Set<object>): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      if (Number.isFinite(v)) return Object.is(v, -0) ? '-0' : String(v);
      return Number.isNaN(v) ? 'NaN' : WORDS.get(v)!;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${v}n`;
    case 'function':
    case 'symbol':
      throw new TypeError(`a ${typeof v} argument has no stable cache key; give @Cacheable a key function`);
  }
  if (v === null) return 'null';
  const o = v as object;
  if (seen.has(o)) throw new TypeError('a circular argument has no stable cache key; give @Cacheable a key function');
  seen.add(o);
  try {
    return encodeObject(o, seen);
  } finally {
    seen.delete(o);
  }
}

function encodeObject(o: object, seen: Set<object>): string {
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) return encodeRecord(o as Record<string, unknown>, seen);
  if (proto === Array.prototype) return encodeArray(o as unknown[], seen);
  if (proto === Date.prototype) {
    const t = (o as Date).getTime();
    return Number.isNaN(t) ? 'Date(NaN)' : `Date(${JSON.stringify((o as Date).toISOString())})`;
  }
  if (proto === Map.prototype) {
    const entries: string[] = [];
    for (const [k, x] of o as Map<unknown, unknown>) entries.push(`${encode(k, seen)}=>${encode(x, seen)}`);
    return `Map{${entries.sort().join(',')}}`;
  }
  if (proto === Set.prototype) {
    const items: string[] = [];
    for (const x of o as Set<unknown>) items.push(encode(x, seen));
    return `Set[${items.sort().join(',')}]`;
  }
  if (proto === RegExp.prototype) {
    const r = o as RegExp;
    return `RegExp(${JSON.stringify(r.source)},${JSON.stringify(r.flags)},${encode(r.lastIndex, seen)})`;
  }
  if (proto === ArrayBuffer.prototype) return `ArrayBuffer(${Buffer.from(o as ArrayBuffer).toString('base64url')})`;
  const binary = proto === Buffer.prototype ? 'Buffer' : BINARY.get(proto as object);
  if (binary !== undefined) {
    const view = o as ArrayBufferView;
    return `${binary}(${Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64url')})`;
  }
  const toJSON = (o as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    return `toJSON(${JSON.stringify(className(proto))},${encode(toJSON.call(o), seen)})`;
  }
  throw new TypeError(
    `a ${className(proto)} argument has no stable cache key (its state may not be enumerable); give @Cacheable a key function, or the class a toJSON()`,
  );
}

function encodeRecord(o: Record<string, unknown>, seen: Set<object>): string {
  if (Object.getOwnPropertySymbols(o).some((s) => Object.prototype.propertyIsEnumerable.call(o, s))) {
    throw new TypeError('an object argument with symbol keys has no stable cache key; give @Cacheable a key function');
  }
  const keys = Object.keys(o).sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out += ',';
    out += `${JSON.stringify(keys[i])}:${encode(o[keys[i]!], seen)}`;
  }
  return `${out}}`;
}

function encodeArray(a: unknown[], seen: Set<object>): string {
  let present = 0;
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    if (i > 0) out += ',';
    if (i in a) {
      present++;
      out += encode(a[i], seen);
    } else {
      out += 'hole';
    }
  }
  // Own enumerable keys of an array are its present indices, unless it has other properties.
  if (Object.keys(a).length !== present) {
    throw new TypeError('an array argument with extra properties has no stable cache key; give @Cacheable a key function');
  }
  return `${out}]`;
}

function className(proto: unknown): string {
  const ctor = (proto as { constructor?: { name?: unknown } } | null)?.constructor;
  return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : 'anonymous class';
}
