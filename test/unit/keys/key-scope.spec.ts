import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createKeyScope } from '../../../lib/keys/key-scope.util.js';

/** The scoped key of `key` under the context value `ctx`. */
const scoped = (ctx: string | undefined, key: string) => createKeyScope(() => ctx)(key);

describe('createKeyScope', () => {
  it('stores keys as given without keyContext', () => {
    expect(createKeyScope(undefined)('product:7')).toBe('product:7');
  });

  it("gives undefined, '' and every string context a form of its own", () => {
    expect(scoped('acme', 'invoice:1')).toBe('acme/invoice:1');
    expect(scoped('', 'invoice:1')).toBe('@empty/invoice:1');
    expect(scoped(undefined, 'invoice:1')).toBe('@none/invoice:1');
    expect(new Set([scoped('', 'k'), scoped(undefined, 'k'), scoped('@none', 'k'), scoped('@empty', 'k'), scoped('/', 'k')]).size).toBe(5);
  });

  it('lets no key forge another context’s key, with / or %2F in it', () => {
    expect(scoped('a', 'b/c')).not.toBe(scoped('a/b', 'c'));
    expect(scoped('a', 'b%2Fc')).not.toBe(scoped('a/b', 'c'));
    expect(scoped('a%2Fb', 'c')).not.toBe(scoped('a/b', 'c'));
    expect(scoped('', 'x')).not.toBe(scoped(undefined, 'x'));
    expect(scoped('', '@none/x')).not.toBe(scoped(undefined, 'x'));
  });

  it('keeps the key as the suffix, so a scoped namespace prefixes its scoped default keys', () => {
    for (const ctx of ['acme', '', undefined, 'a/b:c']) {
      expect(scoped(ctx, 'Reports:find:[1]').startsWith(`${scoped(ctx, 'Reports')}:`)).toBe(true);
    }
  });

  it('asks keyContext on every call', () => {
    let current: string | undefined = 'a';
    const scope = createKeyScope(() => current);
    expect(scope('k')).toBe('a/k');
    current = undefined;
    expect(scope('k')).toBe('@none/k');
  });

  it.each([[''], [undefined], [7], [null]])('rejects the key %j with a TypeError', (key) => {
    expect(() => createKeyScope(() => 'a')(key as string)).toThrow(/non-empty string key/);
  });

  it.each([[7], [null], [{}], [Symbol('t')]])('rejects a keyContext() returning %s with a TypeError', (ctx) => {
    expect(() => createKeyScope(() => ctx as unknown as string)('k')).toThrow(/keyContext\(\) must return a string or undefined/);
  });

  it('property: distinct (context, key) pairs give distinct scoped keys', () => {
    // Small alphabets full of the characters that matter, so near-collisions are common.
    const text = fc.string({ unit: fc.constantFrom('a', '/', '%', '2', 'F', '@', 'n', 'o', 'e', ':', ' ', 'é'), maxLength: 6 });
    const ctx = fc.option(text, { nil: undefined, freq: 4 });
    const pair = fc.tuple(
      ctx,
      text.filter((k) => k !== ''),
    );
    fc.assert(
      fc.property(pair, pair, ([c1, k1], [c2, k2]) => {
        const same = c1 === c2 && k1 === k2;
        expect(scoped(c1, k1) === scoped(c2, k2)).toBe(same);
      }),
      { numRuns: 20_000 },
    );
  });
});
