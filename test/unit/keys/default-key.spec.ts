import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalArgs } from '../../../lib/keys/default-key.util.js';

/** The key, or `null` when the arguments have no stable form (the call then runs uncached). */
function keyOf(args: unknown[]): string | null {
  try {
    return canonicalArgs(args);
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return null;
  }
}

class Money {
  constructor(readonly cents: number) {}
  toJSON() {
    return { cents: this.cents };
  }
}

class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  get value() {
    return this.#value;
  }
}

describe('canonicalArgs: distinct arguments give distinct keys', () => {
  it.each<[string, unknown, unknown]>([
    ['Infinity and the string "Infinity"', Infinity, 'Infinity'],
    ['-Infinity and the string "-Infinity"', -Infinity, '-Infinity'],
    ['NaN and the string "NaN"', NaN, 'NaN'],
    ['10n and the string "10n"', 10n, '10n'],
    ['10n and the number 10', 10n, 10],
    ['-0 and 0', -0, 0],
    ['undefined and null', undefined, null],
    ['undefined and the string "undefined"', undefined, 'undefined'],
    ['1 and "1"', 1, '1'],
    ['true and "true"', true, 'true'],
    ['a Map and the object spelling its old form', new Map([['a', 1]]), { Map: [['a', 1]] }],
    ['a Map and an object with the same entries', new Map([['a', 1]]), { a: 1 }],
    ['a Set and an array of its items', new Set([1, 2]), [1, 2]],
    ['a Set and the object spelling its old form', new Set([1]), { Set: [1] }],
    ['a Date and its ISO string', new Date(0), '1970-01-01T00:00:00.000Z'],
    ['an invalid Date and the string "Invalid Date"', new Date(NaN), 'Invalid Date'],
    ['two RegExps', /a/, /b/],
    ['RegExps differing in flags', /a/g, /a/i],
    ['a RegExp and {}', /a/, {}],
    // biome-ignore lint/suspicious/noSparseArray: the hole is what this case is about
    ['a hole and undefined', [, 1], [undefined, 1]],
    ['an array with a hole and an empty array', new Array(1), []],
    ['a Buffer and a Uint8Array of the same bytes', Buffer.from([1, 2]), new Uint8Array([1, 2])],
    ['Uint8Arrays of different bytes', new Uint8Array([1]), new Uint8Array([2])],
    ['a Float64Array holding -0 and one holding 0', new Float64Array([-0]), new Float64Array([0])],
    ['a toJSON object and its JSON', new Money(5), { cents: 5 }],
    ['toJSON objects of different values', new Money(5), new Money(6)],
    ['a URL and its string', new URL('https://example.com/a'), 'https://example.com/a'],
    ['two URLs', new URL('https://example.com/a'), new URL('https://example.com/b')],
    ['a string containing a comma and two strings', ['a,b'], ['a', 'b']],
    ['nested arrays and a flat one', [[1], 2], [1, [2]]],
  ])('%s', (_, a, b) => {
    const ka = canonicalArgs([a]);
    const kb = canonicalArgs([b]);
    expect(ka).not.toBe(kb);
  });

  it('keeps the JSON spelling of plain data, so simple keys read as before', () => {
    expect(canonicalArgs([{ page: 2, name: 'a' }, 10, 'x', true, null, [1.5]])).toBe('[{"name":"a","page":2},10,"x",true,null,[1.5]]');
  });

  it('gives one key whatever the key order of plain objects, or the insertion order of Maps and Sets', () => {
    expect(canonicalArgs([{ a: 1, b: { c: 2, d: 3 } }])).toBe(canonicalArgs([{ b: { d: 3, c: 2 }, a: 1 }]));
    expect(
      canonicalArgs([
        new Map([
          [1, 'a'],
          [2, 'b'],
        ]),
      ]),
    ).toBe(
      canonicalArgs([
        new Map([
          [2, 'b'],
          [1, 'a'],
        ]),
      ]),
    );
    expect(canonicalArgs([new Set(['x', 'y'])])).toBe(canonicalArgs([new Set(['y', 'x'])]));
  });

  it('treats a null-prototype object as the plain object it spells', () => {
    expect(canonicalArgs([Object.assign(Object.create(null), { q: 'a' })])).toBe(canonicalArgs([{ q: 'a' }]));
  });

  it.each<[string, unknown]>([
    ['URLSearchParams (no enumerable state)', new URLSearchParams('q=admin')],
    ['a class instance with #private fields', new Secret('a')],
    [
      'a plain class instance without toJSON',
      new (class Query {
        q = 'a';
      })(),
    ],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a Promise', Promise.resolve(1)],
    ['a WeakMap', new WeakMap()],
    ['an Error', new Error('x')],
    ['a boxed string', new String('a')],
    ['a Map subclass', new (class Registry extends Map {})()],
    ['an array subclass', new (class List extends Array {})()],
    ['an array with an extra property', Object.assign([1], { extra: 2 })],
    ['an object with a symbol key', { [Symbol('k')]: 1 }],
    [
      'a circular object',
      (() => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return o;
      })(),
    ],
    ['a Map holding a class instance', new Map([['k', new Secret('a')]])],
  ])('throws TypeError (so the call runs uncached) for %s', (_, v) => {
    expect(() => canonicalArgs([v])).toThrow(TypeError);
  });

  it('makes URLSearchParams of different users differ — by refusing them', () => {
    // The reported leak: both were `{}`, so one user got another user's search results.
    expect(keyOf([new URLSearchParams('user=alice')])).toBeNull();
    expect(keyOf([new URLSearchParams('user=bob')])).toBeNull();
  });

  it('tags a subclass with toJSON() (a Date subclass) by its class name', () => {
    const day = new (class Day extends Date {})(0);
    expect(canonicalArgs([day])).toBe('[toJSON("Day","1970-01-01T00:00:00.000Z")]');
    expect(canonicalArgs([day])).not.toBe(canonicalArgs([new Date(0)]));
  });

  it('accepts shared (non-circular) references', () => {
    const shared = { a: 1 };
    expect(canonicalArgs([shared, [shared]])).toBe('[{"a":1},[{"a":1}]]');
  });
});

/**
 * Sameness as the encoding means it: type for type, numbers by `Object.is`, plain objects by
 * their own enumerable keys whatever the order (either plain prototype), Maps and Sets as
 * multisets of entries, toJSON objects by class name and toJSON() result.
 */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b);
  const pa = Object.getPrototypeOf(a);
  const pb = Object.getPrototypeOf(b as object);
  const plain = (p: unknown) => p === Object.prototype || p === null;
  if (plain(pa) || plain(pb)) {
    if (!plain(pa) || !plain(pb)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b as object).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same((a as any)[k], (b as any)[k]));
  }
  if (pa !== pb) {
    if (typeof (a as any).toJSON !== 'function' || typeof (b as any).toJSON !== 'function') return false;
    if (pa === Date.prototype || pb === Date.prototype) return false;
    return pa.constructor.name === pb.constructor.name && same((a as any).toJSON(), (b as any).toJSON());
  }
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (i in a !== i in bb) return false;
      if (i in a && !same(a[i], bb[i])) return false;
    }
    return true;
  }
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime());
  if (a instanceof Map) return sameMultiset([...a], [...(b as Map<unknown, unknown>)], (x, y) => same(x[0], y[0]) && same(x[1], y[1]));
  if (a instanceof Set) return sameMultiset([...a], [...(b as Set<unknown>)], same);
  if (a instanceof RegExp) {
    const r = b as RegExp;
    return a.source === r.source && a.flags === r.flags && Object.is(a.lastIndex, r.lastIndex);
  }
  if (ArrayBuffer.isView(a)) return Buffer.compare(bytes(a), bytes(b as ArrayBufferView)) === 0;
  if (typeof (a as any).toJSON === 'function') return same((a as any).toJSON(), (b as any).toJSON());
  throw new Error('same() met a value the generator should not make');
}

function sameMultiset<T>(a: T[], b: T[], eq: (x: T, y: T) => boolean): boolean {
  if (a.length !== b.length) return false;
  const left = [...b];
  return a.every((x) => {
    const i = left.findIndex((y) => eq(x, y));
    return i >= 0 && left.splice(i, 1).length === 1;
  });
}

const bytes = (v: ArrayBufferView) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** A deep copy with object keys, Map entries and Set items in another order. */
function reordered(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const out = Object.create(proto);
    for (const k of Object.keys(v).reverse()) {
      Object.defineProperty(out, k, { value: reordered((v as any)[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  if (proto === Array.prototype) {
    const out = new Array((v as unknown[]).length);
    (v as unknown[]).forEach((x, i) => {
      out[i] = reordered(x);
    });
    return out;
  }
  if (proto === Map.prototype) return new Map([...(v as Map<unknown, unknown>)].reverse().map(([k, x]) => [reordered(k), reordered(x)]));
  if (proto === Set.prototype) return new Set([...(v as Set<unknown>)].reverse().map(reordered));
  return v;
}

/** Few distinct leaves, so that generated pairs are often equal, or differ only in type. */
const leaf = fc.constantFrom<unknown>(
  0,
  -0,
  1,
  NaN,
  Infinity,
  -Infinity,
  10,
  1.5,
  '',
  '0',
  '1',
  '-0',
  'NaN',
  'Infinity',
  '10n',
  'undefined',
  'null',
  'true',
  'hole',
  ',',
  '"',
  ':',
  0n,
  1n,
  10n,
  -1n,
  true,
  false,
  null,
  undefined,
);
const leafObject = fc.oneof(
  fc.integer({ min: -1, max: 1 }).map((t) => new Date(t)),
  fc.constant(null).map(() => new Date(NaN)),
  fc.integer({ min: 0, max: 2 }).map((c) => new Money(c)),
  fc.constantFrom('https://a.test/', 'https://b.test/').map((u) => new URL(u)),
  fc.constantFrom('a', 'b').map((s) => new RegExp(s)),
  fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }).map((xs) => new Uint8Array(xs)),
  fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 2 }).map((xs) => Buffer.from(xs)),
);
const small = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    leafObject,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.sparseArray(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3 }),
    fc.dictionary(fc.constantFrom('a', 'b'), tie('value'), { maxKeys: 2, noNullPrototype: false }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 2 }).map((es) => new Map(es)),
    fc.array(tie('value'), { maxLength: 2 }).map((xs) => new Set(xs)),
  ),
})).value;
const rich = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withBoxedValues: true,
  withObjectString: true,
});
const args = fc.array(fc.oneof(small, rich), { maxLength: 3 });

describe('canonicalArgs: properties', () => {
  it('equal keys mean same values, type for type; same values give equal keys', () => {
    fc.assert(
      fc.property(args, args, (a, b) => {
        const ka = keyOf(a);
        const kb = keyOf(b);
        if (ka === null || kb === null) return;
        expect(ka === kb).toBe(same(a, b));
      }),
      { numRuns: 3000 },
    );
  });

  it('equal keys for pairs built to be alike (small values collide often)', () => {
    const smallArgs = fc.array(small, { maxLength: 2 });
    let equal = 0;
    fc.assert(
      fc.property(smallArgs, smallArgs, (a, b) => {
        const ka = keyOf(a);
        const kb = keyOf(b);
        expect(ka).not.toBeNull(); // everything `small` makes has a form
        if (ka === kb) equal++;
        expect(ka === kb).toBe(same(a, b));
      }),
      { numRuns: 5000 },
    );
    expect(equal).toBeGreaterThan(50); // the property met equal pairs, not only distinct ones
  });

  it('a value and a reordered deep copy give one key, or both throw', () => {
    fc.assert(
      fc.property(args, (a) => {
        expect(keyOf(reordered(a) as unknown[])).toBe(keyOf(a));
      }),
      { numRuns: 1000 },
    );
  });
});
