import 'reflect-metadata';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { Cacheable, CachePut, TieredCacheConfigError } from 'nestjs-tiered-cache';
import type { CacheableOptions, CachePutOptions, GetOrSetOptions, SetOptions, TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { callPolicy, ENTRY_OPTION_NAMES, type EntryOptionName, entryTimes, MAX_LEASE_HOLD, mergePolicy } from '../../../lib/options/entry-policy.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';

const moduleDefaults = () => resolveOptions({ redis: 'redis://127.0.0.1:1' }).entry;

/** A value of the right type for each entry option, and one of the wrong type. */
const VALID: Record<EntryOptionName, unknown> = {
  ttl: 1_000,
  l1Ttl: 500,
  nullTtl: 100,
  lock: false,
  grace: 2_000,
  graceBackoff: 300,
  softTimeout: 50,
  hardTimeout: 700,
  earlyRefresh: 2,
  jitter: 0.1,
};
const INVALID: Record<EntryOptionName, unknown> = {
  ttl: 'abc',
  l1Ttl: -1,
  nullTtl: Number.NaN,
  lock: 'yes',
  grace: -5,
  graceBackoff: Infinity,
  softTimeout: '10',
  hardTimeout: -1,
  earlyRefresh: 0,
  jitter: 2,
};

describe('entry policy: every option named once, merged and validated once', () => {
  it('the per-call and per-decorator option types carry every entry option (a missing one is a compile error)', () => {
    expectTypeOf<Exclude<EntryOptionName, keyof GetOrSetOptions>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<EntryOptionName, keyof CacheableOptions>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<EntryOptionName | 'l1Ttl', keyof TieredCacheModuleOptions | 'l1Ttl'>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<keyof SetOptions, EntryOptionName | 'tags'>>().toEqualTypeOf<never>();
    expectTypeOf<Exclude<keyof SetOptions, 'tags'>>().toEqualTypeOf<Exclude<keyof CachePutOptions, 'key' | 'tags' | 'condition' | 'unless'>>();
    expect(Object.keys(VALID).sort()).toEqual([...ENTRY_OPTION_NAMES].sort());
  });

  it('each option given per call overrides the module default, and nothing else does', () => {
    const base = moduleDefaults();
    for (const name of ENTRY_OPTION_NAMES) {
      const merged = mergePolicy(base, { [name]: VALID[name] }, 'getOrSet()');
      expect(merged[name]).toBe(name === 'nullTtl' ? Math.min(VALID.nullTtl as number, base.ttl) : VALID[name]);
      for (const other of ENTRY_OPTION_NAMES) {
        if (other === name) continue;
        // A null result never lives longer than any result.
        if (other === 'nullTtl') expect(merged.nullTtl).toBe(Math.min(base.nullTtl, merged.ttl));
        else expect(merged[other]).toBe(base[other]);
      }
    }
  });

  it('returns the defaults themselves when nothing overrides them (nothing allocated per call)', () => {
    const base = moduleDefaults();
    expect(mergePolicy(base, undefined, 'getOrSet()')).toBe(base);
    expect(mergePolicy(base, {}, 'getOrSet()')).toBe(base);
    expect(mergePolicy(base, { ttl: base.ttl, key: () => 'k' }, '@Cacheable()')).toBe(base);
    expect(callPolicy(base, undefined, 'set()')).toBe(base);
  });

  it.each(ENTRY_OPTION_NAMES)('an invalid per-call %s throws TieredCacheConfigError naming the option and where it was given', (name) => {
    const base = moduleDefaults();
    expect(() => mergePolicy(base, { [name]: INVALID[name] }, 'getOrSet()')).toThrow(TieredCacheConfigError);
    expect(() => mergePolicy(base, { [name]: INVALID[name] }, 'getOrSet()')).toThrow(new RegExp(`"${name}" of getOrSet\\(\\)`));
    // The same check at module level.
    if (name !== 'l1Ttl') expect(() => resolveOptions({ [name]: INVALID[name] } as TieredCacheModuleOptions)).toThrow(new RegExp(`"${name}"`));
  });

  it('a decorator with an invalid option fails at decoration, naming the decorator, the method and the option', () => {
    const decorate = (options: CacheableOptions) => {
      class Reports {
        @Cacheable(options)
        async build(): Promise<string> {
          return 'r';
        }
      }
      return Reports;
    };
    expect(() => decorate({ ttl: 'abc' as unknown as number })).toThrow(/"ttl" of @Cacheable\(\) on Reports\.build: give a duration/);
    expect(() => decorate({ hardTimeout: -1 })).toThrow(TieredCacheConfigError);
    expect(() => decorate({ key: 'report' as unknown as () => string })).toThrow(/"key" of @Cacheable\(\) on Reports\.build: give a function/);
    expect(() =>
      CachePut({ key: () => 'k', grace: Number.NaN })({ constructor: class Prices {} }, 'refresh', {
        value: async () => 1,
      } as TypedPropertyDescriptor<() => Promise<number>>),
    ).toThrow(/"grace" of @CachePut\(\) on Prices\.refresh/);
  });

  it('property: for any module options and call options, each entry option is the call’s if given, else the module’s', () => {
    const durations = fc.integer({ min: 1, max: 10_000_000 });
    const options = fc.record(
      {
        ttl: durations,
        nullTtl: fc.integer({ min: 0, max: 10_000_000 }),
        lock: fc.boolean(),
        grace: fc.integer({ min: 0, max: 10_000_000 }),
        graceBackoff: fc.integer({ min: 0, max: 100_000 }),
        softTimeout: fc.integer({ min: 0, max: 100_000 }),
        hardTimeout: fc.integer({ min: 0, max: 100_000 }),
        earlyRefresh: fc.oneof(fc.constant(false as const), fc.double({ min: 0.01, max: 10, noNaN: true })),
        jitter: fc.double({ min: 0, max: 1, noNaN: true }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(options, options, fc.option(durations, { nil: undefined }), (mod, call, l1Ttl) => {
        const base = resolveOptions({ redis: 'redis://127.0.0.1:1', ...mod }).entry;
        const merged = mergePolicy(base, { ...call, l1Ttl }, 'getOrSet()');
        const given = { ...call, l1Ttl } as Record<string, unknown>;
        for (const name of ENTRY_OPTION_NAMES) {
          const expected = given[name] ?? base[name];
          if (name === 'nullTtl') expect(merged.nullTtl).toBe(Math.min(expected as number, merged.ttl));
          else expect(merged[name]).toBe(expected);
        }
        expect(merged.leaseHold).toBe(merged.hardTimeout > 0 ? merged.hardTimeout : MAX_LEASE_HOLD);
      }),
    );
  });

  it('derives an entry’s lifetime in one place: nullTtl for null, grace after ttl, tags within tagTtl, nothing for a zero ttl', () => {
    const base = mergePolicy(moduleDefaults(), { ttl: 1_000, nullTtl: 100, grace: 500 }, 'test');
    expect(entryTimes(base, 'v', 0, 86_400_000)).toEqual({ expiresAt: 1_000, staleUntil: 1_500 });
    expect(entryTimes(base, null, 0, 86_400_000)).toEqual({ expiresAt: 100, staleUntil: 600 });
    expect(entryTimes(mergePolicy(base, { nullTtl: 0 }, 'test'), undefined, 0, 86_400_000)).toBeUndefined();
    expect(entryTimes({ ...base, tags: ['t'] }, 'v', 0, 1_200)).toEqual({ expiresAt: 700, staleUntil: 1_200 });
  });
});
