import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toRedisKey } from '../../../lib/keys/cache-key.util.js';

const HASHED = /#[A-Za-z0-9_-]{43}\}$/;

describe('toRedisKey', () => {
  it('stores a key up to maxKeyLength as given, inside a hash tag', () => {
    expect(toRedisKey('shop:', 'product:7', 256)).toBe('shop:{product:7}');
    expect(toRedisKey('shop:', 'x'.repeat(20), 20)).toBe(`shop:{${'x'.repeat(20)}}`);
  });

  it('hashes a longer key, keeping its head up to the last ":" within maxKeyLength', () => {
    const key = `ReportsService:find:["${'q'.repeat(100)}"]`;
    const stored = toRedisKey('p:', key, 40);
    expect(stored).toMatch(HASHED);
    expect(stored.startsWith('p:{ReportsService:find:#')).toBe(true);
  });

  it('keeps a whole namespace (with its context) even when maxKeyLength leaves no room for a hash', () => {
    // The bug: only maxKeyLength - 43 characters were kept, cutting the namespace, so
    // @CacheEvict({ allEntries: true }) (which deletes by `{Namespace:`) missed the entry.
    const key = `acme/AVeryLongServiceNameIndeed:find:[${'1,'.repeat(40)}1]`;
    expect(toRedisKey('p:', key, 60).startsWith('p:{acme/AVeryLongServiceNameIndeed:')).toBe(true);
    expect(toRedisKey('p:', key, 60).length).toBeLessThanOrEqual('p:{}'.length + 60 + 44);
  });

  it('property: every namespace prefix that fits in maxKeyLength survives hashing', () => {
    const part = fc.string({ unit: fc.constantFrom('a', 'B', ':', '/', '#', '}', '@'), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(part, part, fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 80 }), (ns, method, args, max) => {
        const key = `${ns}:${method}:${args}`;
        fc.pre(ns.length + 1 <= max && ns.charCodeAt(0) !== 125);
        const inner = toRedisKey('', key, max).slice(1, -1);
        expect(inner.startsWith(`${ns}:`)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('hashes a key starting with "}" with an empty head (no empty hash tag)', () => {
    expect(toRedisKey('p:', '}x', 256)).toMatch(/^p:\{#[A-Za-z0-9_-]{43}\}$/);
  });

  it('hashes a short key that looks like a hashed form, so it cannot name another key’s entry', () => {
    const long = `Reports:find:${'x'.repeat(300)}`;
    const stored = toRedisKey('p:', long, 256);
    const forged = stored.slice('p:{'.length, -1); // a key spelling the hashed form
    expect(forged.length).toBeLessThanOrEqual(256);
    expect(toRedisKey('p:', forged, 256)).not.toBe(stored);
    expect(toRedisKey('p:', forged, 256)).toMatch(HASHED);
  });

  it('property: distinct keys are stored under distinct names', () => {
    const key = fc.string({ unit: fc.constantFrom('a', ':', '#', '}', '{', '-'), minLength: 1, maxLength: 70 });
    fc.assert(
      fc.property(key, key, fc.integer({ min: 1, max: 60 }), (a, b, max) => {
        expect(toRedisKey('p:', a, max) === toRedisKey('p:', b, max)).toBe(a === b);
      }),
      { numRuns: 10_000 },
    );
  });
});
