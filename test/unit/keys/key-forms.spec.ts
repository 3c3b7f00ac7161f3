import { describe, expect, it } from 'vitest';
import { assertKey, escapeGlob, toRedisKey } from '../../../lib/keys/cache-key.util.js';
import { canonicalArgs } from '../../../lib/keys/default-key.util.js';
import { createKeyScope } from '../../../lib/keys/key-scope.util.js';

/**
 * Stored key forms are a format, not an implementation detail: instances of two releases share
 * one Redis during a rolling deploy, and each must read what the other wrote. These pin the forms
 * (and the messages a user reads when a key cannot be made).
 */
describe('default key forms stay the same across releases', () => {
  class Money {
    constructor(readonly cents: number) {}
    toJSON() {
      return { cents: this.cents };
    }
  }
  const anonymous = new (class {
    toJSON() {
      return 1;
    }
  })();

  it.each<[string, unknown[], string]>([
    ['numbers', [0, -0, 1.5, Infinity, -Infinity, NaN], '[0,-0,1.5,Infinity,-Infinity,NaN]'],
    ['primitives', ['a', true, false, undefined, null, 10n], '["a",true,false,undefined,null,10n]'],
    // biome-ignore lint/suspicious/noSparseArray: the hole is part of what this case pins
    ['records, keys sorted', [{ b: 1, a: [1, , 3] }], '[{"a":[1,hole,3],"b":1}]'],
    ['dates', [new Date(0), new Date(Number.NaN)], '[Date("1970-01-01T00:00:00.000Z"),Date(NaN)]'],
    [
      'maps and sets, sorted',
      [
        new Map([
          [2, 'b'],
          [1, 'a'],
        ]),
        new Set([2, 1]),
      ],
      '[Map{1=>"a",2=>"b"},Set[1,2]]',
    ],
    ['regular expressions', [/a.b/gi], '[RegExp("a.b","gi",0)]'],
    ['binary data', [new Uint8Array([1, 2]).buffer, Buffer.from([1, 2]), new Uint16Array([1])], '[ArrayBuffer(AQI),Buffer(AQI),Uint16Array(AQA)]'],
    ['classes with toJSON', [new Money(5), anonymous], '[toJSON("Money",{"cents":5}),toJSON("anonymous class",1)]'],
  ])('%s', (_what, args, form) => {
    expect(canonicalArgs(args)).toBe(form);
  });

  it('names what has no stable key, and the fix', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    class Opaque {
      readonly #v = 1;
      get v() {
        return this.#v;
      }
    }
    const extra = Object.assign([1], { x: 1 });
    const cases: [unknown, RegExp][] = [
      [() => 1, /^a function argument has no stable cache key; give @Cacheable a key function$/],
      [Symbol('s'), /^a symbol argument has no stable cache key; give @Cacheable a key function$/],
      [circular, /^a circular argument has no stable cache key; give @Cacheable a key function$/],
      [
        new Opaque(),
        /^a Opaque argument has no stable cache key \(its state may not be enumerable\); give @Cacheable a key function, or the class a toJSON\(\)$/,
      ],
      [{ [Symbol('k')]: 1 }, /^an object argument with symbol keys has no stable cache key; give @Cacheable a key function$/],
      [extra, /^an array argument with extra properties has no stable cache key; give @Cacheable a key function$/],
    ];
    for (const [arg, message] of cases) expect(() => canonicalArgs([arg])).toThrow(message);
  });
});

describe('storage key forms stay the same across releases', () => {
  it('keeps a key up to maxKeyLength as given, and hashes a longer one under its namespace', () => {
    expect(toRedisKey('app:', 'user:1', 200)).toBe('app:{user:1}');
    const long = `Users:${'x'.repeat(80)}`;
    expect(toRedisKey('app:', long, 50)).toMatch(/^app:\{Users:#[A-Za-z0-9_-]{43}\}$/);
  });

  it('keeps the first maxKeyLength - 44 characters of a long key without ":" in reach', () => {
    const key = 'abcdefghijklmnopqrstuvwxyz'.repeat(4);
    expect(toRedisKey('', key, 60)).toMatch(/^\{abcdefghijklmnop#[A-Za-z0-9_-]{43}\}$/);
    expect(toRedisKey('', key, 30)).toMatch(/^\{#[A-Za-z0-9_-]{43}\}$/);
  });

  it('only looks for the ":" within maxKeyLength', () => {
    const key = `${'a'.repeat(59)}:${'b'.repeat(40)}`;
    expect(toRedisKey('', key, 59)).toMatch(/^\{aaaaaaaaaaaaaaa#/);
    expect(toRedisKey('', key, 60)).toMatch(new RegExp(`^\\{${'a'.repeat(59)}:#`));
  });

  it('keeps a key shorter than a hashed suffix (44 characters) as given, "#" or not', () => {
    const short = `#${'a'.repeat(42)}`;
    expect(toRedisKey('', short, 200)).toBe(`{${short}}`);
    for (const looksHashed of [`#${'a'.repeat(43)}`, `x#${'a'.repeat(43)}`]) {
      expect(toRedisKey('', looksHashed, 200)).toMatch(new RegExp(`^\\{${looksHashed}#[A-Za-z0-9_-]{43}\\}$`));
    }
  });
});

describe('key errors name the problem', () => {
  it('for an empty or missing key', () => {
    expect(() => assertKey('', 'get()')).toThrow("nestjs-tiered-cache: get() needs a non-empty string key; got ''");
    expect(() => assertKey(undefined, 'del()')).toThrow('nestjs-tiered-cache: del() needs a non-empty string key; got undefined');
    expect(() => createKeyScope(() => 'a')('')).toThrow("a cache call needs a non-empty string key; got ''");
  });

  it('for a keyContext() that returns something other than a string', () => {
    const scoped = (ctx: unknown) => () => createKeyScope(() => ctx as string)('k');
    expect(scoped(null)).toThrow(/keyContext\(\) must return a string or undefined; got null$/);
    expect(scoped(7)).toThrow(/got number 7$/);
    expect(scoped({})).toThrow(/got an object \(\[object Object\]\)$/);
    expect(scoped([])).toThrow(/got an object \(\[object Array\]\)$/);
  });

  it('escapes glob characters in a literal SCAN prefix', () => {
    expect(escapeGlob('a*b?c[d]e\\f')).toBe('a\\*b\\?c\\[d\\]e\\\\f');
    expect(escapeGlob('plain:{x}')).toBe('plain:{x}');
  });
});
