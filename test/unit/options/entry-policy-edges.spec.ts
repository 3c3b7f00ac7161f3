import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TieredCacheConfigError } from 'nestjs-tiered-cache';
import {
  callPolicy,
  checkEntryOptions,
  ENTRY_OPTION_NAMES,
  type EntryPolicy,
  entryTimes,
  MAX_LEASE_HOLD,
  mergePolicy,
  withTags,
  withUnless,
} from '../../../lib/options/entry-policy.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';

const base = () => resolveOptions({ redis: 'redis://127.0.0.1:1' }).entry;
const WHERE = '@Cacheable() on Reports.build';

function configError(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(TieredCacheConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a TieredCacheConfigError');
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('checkEntryOptions: a decorator’s options are checked at decoration time', () => {
  it('passes options that are absent, empty, valid or not entry options (their owner checks those)', () => {
    expect(() => checkEntryOptions(undefined, WHERE)).not.toThrow();
    expect(() => checkEntryOptions({}, WHERE)).not.toThrow();
    expect(() => checkEntryOptions({ key: 5, tags: 'x', namespace: 1 }, WHERE)).not.toThrow();
    expect(() =>
      checkEntryOptions(
        { ttl: 1, l1Ttl: 1, nullTtl: 0, lock: false, grace: 0, graceBackoff: 0, softTimeout: 0, hardTimeout: 0, earlyRefresh: false, jitter: 1 },
        WHERE,
      ),
    ).not.toThrow();
  });

  // Which entry options may be 0: a zero ttl or l1Ttl would store nothing, so it is a mistake.
  it.each<[string, boolean]>([
    ['ttl', false],
    ['l1Ttl', false],
    ['nullTtl', true],
    ['grace', true],
    ['graceBackoff', true],
    ['softTimeout', true],
    ['hardTimeout', true],
  ])('%s: 0 allowed is %s; a negative one is refused naming the option, where, the bound and the value', (name, zeroOk) => {
    if (zeroOk) expect(() => checkEntryOptions({ [name]: 0 }, WHERE)).not.toThrow();
    else expect(configError(() => checkEntryOptions({ [name]: 0 }, WHERE))).toContain('(a number >= 1); got 0');
    const message = configError(() => checkEntryOptions({ [name]: -1 }, WHERE));
    // No module default at decoration time, so no example value either.
    expect(message).toBe(`nestjs-tiered-cache: invalid option "${name}" of ${WHERE}: give a duration in milliseconds (a number >= ${zeroOk ? 0 : 1}); got -1.`);
  });

  it('refuses a bad lock, earlyRefresh or jitter naming where it was given', () => {
    expect(configError(() => checkEntryOptions({ lock: 'no' }, WHERE))).toBe(
      `nestjs-tiered-cache: invalid option "lock" of ${WHERE}: give true or false; got 'no'.`,
    );
    expect(configError(() => checkEntryOptions({ earlyRefresh: 0 }, WHERE))).toContain(`"earlyRefresh" of ${WHERE}: give a beta > 0`);
    expect(configError(() => checkEntryOptions({ jitter: 1.5 }, WHERE))).toContain(`"jitter" of ${WHERE}: give a fraction from 0 to 1`);
  });
});

describe('one validation wherever an option is given', () => {
  const throws = (run: () => unknown): boolean => {
    try {
      run();
      return false;
    } catch (e) {
      expect(e).toBeInstanceOf(TieredCacheConfigError);
      return true;
    }
  };
  // Values a config file, an environment variable or a typo may produce.
  const SLIPS = [0, -0, 1, 0.5, 1_000, Infinity, -Infinity, Number.NaN, true, false, null, '', '1', 'yes', [], {}];
  const agree = (name: (typeof ENTRY_OPTION_NAMES)[number], value: unknown): void => {
    const atDecoration = throws(() => checkEntryOptions({ [name]: value }, WHERE));
    expect(
      throws(() => mergePolicy(base(), { [name]: value }, WHERE)),
      `${name}: ${String(value)}`,
    ).toBe(atDecoration);
    if (name !== 'l1Ttl') {
      expect(
        throws(() => resolveOptions({ redis: 'redis://127.0.0.1:1', [name]: value } as TieredCacheModuleOptions)),
        `${name}: ${String(value)}`,
      ).toBe(atDecoration);
    }
  };

  it('a decorator’s option passes at decoration exactly when the call merging it (and the module) accepts it', () => {
    // null is "not given" for lock everywhere (the module default applies), and refused for the rest.
    for (const name of ENTRY_OPTION_NAMES) for (const value of SLIPS) agree(name, value);
    expect(() => checkEntryOptions({ lock: null }, WHERE)).not.toThrow();
    expect(mergePolicy(base(), { lock: null }, WHERE).lock).toBe(true);
  });

  it('property: the same for random numbers and strings', () => {
    const anyValue = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ min: -2, max: 2 }), fc.string({ maxLength: 3 }));
    fc.assert(
      fc.property(fc.constantFrom(...ENTRY_OPTION_NAMES), anyValue, (name, value) => agree(name, value)),
      { numRuns: 200 },
    );
  });
});

describe('mergePolicy: per-call and per-decorator options over the module’s', () => {
  it('names the option, where it was given and the module default as the example', () => {
    expect(configError(() => mergePolicy(base(), { ttl: 0 }, 'getOrSet()'))).toBe(
      'nestjs-tiered-cache: invalid option "ttl" of getOrSet(): give a duration in milliseconds (a number >= 1), e.g. 60000; got 0.',
    );
    expect(configError(() => mergePolicy(base(), { l1Ttl: Infinity }, 'set()'))).toContain('"l1Ttl" of set()');
  });

  it('caps nullTtl by the merged ttl, whichever of the two the call gives', () => {
    expect(mergePolicy(base(), { ttl: 1_000 }, 'getOrSet()').nullTtl).toBe(1_000);
    expect(mergePolicy(base(), { ttl: 5_000 }, 'getOrSet()').nullTtl).toBe(5_000);
    expect(mergePolicy(base(), { ttl: 9_000 }, 'getOrSet()').nullTtl).toBe(5_000);
    expect(mergePolicy(base(), { nullTtl: 90_000 }, 'getOrSet()').nullTtl).toBe(60_000);
    expect(mergePolicy(base(), { ttl: 2_000, nullTtl: 3_000 }, 'getOrSet()')).toMatchObject({ ttl: 2_000, nullTtl: 2_000 });
  });

  it('derives leaseHold again from the merged hardTimeout', () => {
    expect(mergePolicy(base(), { hardTimeout: 300 }, 'getOrSet()').leaseHold).toBe(300);
    const withTimeout = mergePolicy(base(), { hardTimeout: 300 }, 'getOrSet()');
    expect(mergePolicy(withTimeout, { hardTimeout: 0 }, 'getOrSet()').leaseHold).toBe(MAX_LEASE_HOLD);
    expect(mergePolicy(withTimeout, { ttl: 10 }, 'getOrSet()').leaseHold).toBe(300);
  });

  it('leaves the module policy untouched and keeps its tags and unless', () => {
    const unless = (r: unknown) => r === 0;
    const b = withUnless(withTags(base(), ['t'], 'x'), unless);
    const before = { ...b };
    const merged = mergePolicy(b, { ttl: 1_000, jitter: 0.5 }, WHERE);
    expect(b).toEqual(before);
    expect(merged).toMatchObject({ ttl: 1_000, jitter: 0.5, tags: ['t'], unless });
    for (const name of ENTRY_OPTION_NAMES) if (name !== 'ttl' && name !== 'jitter' && name !== 'nullTtl') expect(merged[name]).toBe(b[name]);
  });
});

describe('tags and unless of one call', () => {
  it('takes an array of non-empty strings; an empty array or none leaves the policy as it is', () => {
    const p = base();
    expect(withTags(p, undefined, 'set()')).toBe(p);
    expect(withTags(p, [], 'set()')).toBe(p);
    expect(withTags(p, ['a', 'b'], 'set()')).toEqual({ ...p, tags: ['a', 'b'] });
  });

  it('refuses other tags naming where they were given', () => {
    for (const tags of ['a', [''], ['a', ''], [1], ['a', null], { 0: 'a' }]) {
      expect(configError(() => withTags(base(), tags, 'set()'))).toBe(
        'nestjs-tiered-cache: invalid option "tags" of set(): give an array of non-empty strings.',
      );
    }
  });

  it('callPolicy merges a call’s entry options and its tags', () => {
    const p = base();
    expect(callPolicy(p, {}, 'set()')).toBe(p);
    expect(callPolicy(p, { tags: ['x'] }, 'set()')).toEqual({ ...p, tags: ['x'] });
    expect(callPolicy(p, { ttl: 100, tags: ['x'] } as { tags: string[] }, 'set()')).toMatchObject({ ttl: 100, nullTtl: 100, tags: ['x'] });
    expect(() => callPolicy(p, { tags: 'x' } as unknown as { tags: string[] }, 'set()')).toThrow(/"tags" of set\(\)/);
  });

  it('withUnless adds the veto, or leaves the policy as it is without one', () => {
    const p = base();
    const unless = () => true;
    expect(withUnless(p, undefined)).toBe(p);
    expect(withUnless(p, unless)).toEqual({ ...p, unless });
  });
});

describe('entryTimes: the lifetime of an entry written now', () => {
  const policy = (over: Partial<EntryPolicy>): EntryPolicy => ({ ...base(), ...over });
  const NOW = 1_000_000;
  const TAG_TTL = 86_400_000;

  it('lives ttl for a value, nullTtl for null and undefined (never longer than ttl), and grace after that', () => {
    const p = policy({ ttl: 1_000, nullTtl: 100, grace: 0 });
    expect(entryTimes(p, 'v', NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 1_000, staleUntil: NOW + 1_000 });
    expect(entryTimes(p, 0, NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 1_000, staleUntil: NOW + 1_000 });
    expect(entryTimes(p, null, NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 100, staleUntil: NOW + 100 });
    expect(entryTimes(p, undefined, NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 100, staleUntil: NOW + 100 });
    expect(entryTimes(policy({ ttl: 50, nullTtl: 100 }), null, NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 50, staleUntil: NOW + 50 });
    expect(entryTimes(policy({ ttl: 1_000, grace: 300 }), 'v', NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 1_000, staleUntil: NOW + 1_300 });
  });

  it('nullTtl: 0 stores no null result, with or without grace and jitter', () => {
    expect(entryTimes(policy({ nullTtl: 0 }), null, NOW, TAG_TTL)).toBeUndefined();
    expect(entryTimes(policy({ nullTtl: 0, grace: 500 }), undefined, NOW, TAG_TTL)).toBeUndefined();
    // Jitter shortens a TTL; it never makes a null result that is not to be cached live 1 ms.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    expect(entryTimes(policy({ nullTtl: 0, jitter: 0.1 }), null, NOW, TAG_TTL)).toBeUndefined();
  });

  it('jitter shortens a TTL by up to its fraction, rounded to the millisecond, never below 1 ms', () => {
    const random = vi.spyOn(Math, 'random');
    random.mockReturnValue(0);
    expect(entryTimes(policy({ ttl: 1_000, jitter: 0.5 }), 'v', NOW, TAG_TTL)?.expiresAt).toBe(NOW + 1_000);
    random.mockReturnValue(0.5);
    expect(entryTimes(policy({ ttl: 1_000, jitter: 0.5 }), 'v', NOW, TAG_TTL)?.expiresAt).toBe(NOW + 750);
    random.mockReturnValue(0.999);
    expect(entryTimes(policy({ ttl: 1_000, jitter: 0.1 }), 'v', NOW, TAG_TTL)?.expiresAt).toBe(NOW + 900);
    // 10 * (1 - 0.25) = 7.5 rounds to 8.
    random.mockReturnValue(1);
    expect(entryTimes(policy({ ttl: 10, jitter: 0.25 }), 'v', NOW, TAG_TTL)?.expiresAt).toBe(NOW + 8);
    random.mockReturnValue(0.9999);
    expect(entryTimes(policy({ ttl: 100, jitter: 1 }), 'v', NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 1, staleUntil: NOW + 1 });
    // Grace comes after the jittered TTL, unshortened.
    random.mockReturnValue(0.5);
    expect(entryTimes(policy({ ttl: 1_000, jitter: 0.5, grace: 200 }), 'v', NOW, TAG_TTL)).toEqual({ expiresAt: NOW + 750, staleUntil: NOW + 950 });
  });

  it('does not draw a random number without jitter', () => {
    const random = vi.spyOn(Math, 'random');
    expect(entryTimes(policy({ ttl: 1_000, jitter: 0 }), 'v', NOW, TAG_TTL)?.expiresAt).toBe(NOW + 1_000);
    expect(random).not.toHaveBeenCalled();
  });

  it('a tagged entry never outlives its tags’ invalidation markers (tagTtl), grace included', () => {
    const tagged = (over: Partial<EntryPolicy>) => policy({ tags: ['t'], ...over });
    expect(entryTimes(tagged({ ttl: 1_000, grace: 500 }), 'v', NOW, 1_200)).toEqual({ expiresAt: NOW + 700, staleUntil: NOW + 1_200 });
    expect(entryTimes(tagged({ ttl: 700, grace: 500 }), 'v', NOW, 1_200)).toEqual({ expiresAt: NOW + 700, staleUntil: NOW + 1_200 });
    expect(entryTimes(tagged({ ttl: 600, grace: 500 }), 'v', NOW, 1_200)).toEqual({ expiresAt: NOW + 600, staleUntil: NOW + 1_100 });
    expect(entryTimes(tagged({ ttl: 5_000, grace: 0 }), 'v', NOW, 1_200)).toEqual({ expiresAt: NOW + 1_200, staleUntil: NOW + 1_200 });
    // A grace as long as tagTtl leaves no fresh time at all: not stored.
    expect(entryTimes(tagged({ ttl: 1_000, grace: 1_200 }), 'v', NOW, 1_200)).toBeUndefined();
    expect(entryTimes(tagged({ ttl: 1_000, grace: 5_000 }), 'v', NOW, 1_200)).toBeUndefined();
    // Untagged entries are not bound by tagTtl.
    expect(entryTimes(policy({ ttl: 5_000, grace: 500 }), 'v', NOW, 1_200)).toEqual({ expiresAt: NOW + 5_000, staleUntil: NOW + 5_500 });
  });
});
