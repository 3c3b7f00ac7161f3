import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toRedisKey } from '../../../lib/keys/cache-key.util.js';
import { canonicalArgs } from '../../../lib/keys/default-key.util.js';
import { defaultNamespace } from '../../../lib/keys/default-namespace.util.js';

const HASHED = '#[A-Za-z0-9_-]{43}';

describe('storage key forms at their edges', () => {
  it('keeps a long key (44 characters and more) as given while it fits maxKeyLength and does not look hashed', () => {
    for (const key of ['x'.repeat(44), `Reports:${'y'.repeat(100)}`, `a#${'b'.repeat(44)}`, `${'c'.repeat(50)}#${'d'.repeat(42)}`]) {
      expect(toRedisKey('app:', key, 256)).toBe(`app:{${key}}`);
    }
  });

  it('keeps a ":" at the very start as the namespace of a hashed key', () => {
    const key = `:${'x'.repeat(300)}`;
    expect(toRedisKey('app:', key, 60)).toMatch(new RegExp(`^app:\\{:${HASHED}\\}$`));
  });
});

describe('default key forms of unusual objects', () => {
  it('spells an object whose prototype has no constructor with toJSON() as an anonymous class', () => {
    const proto = Object.assign(Object.create(null) as object, {
      toJSON() {
        return 1;
      },
    });
    expect(canonicalArgs([Object.create(proto)])).toBe('[toJSON("anonymous class",1)]');
  });

  it('refuses an object whose prototype has no constructor and no toJSON(), as an anonymous class', () => {
    const proto = Object.assign(Object.create(null) as object, { size: 1 });
    expect(() => canonicalArgs([Object.create(proto)])).toThrow(/^a anonymous class argument has no stable cache key/);
  });
});

describe('defaultNamespace of a class whose name is not a string', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is anonymous, never the name property itself (a static name() method, say)', () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const ctor = class {};
    Object.defineProperty(ctor, 'name', { value: () => 'Products' });
    expect(defaultNamespace(ctor)).toMatch(/^anonymous(#\d+)?$/);
  });
});
