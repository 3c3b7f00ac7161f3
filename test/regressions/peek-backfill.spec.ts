import { describe, expect, it } from 'vitest';
import { uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 7: a peek() whose Redis read overlaps a set() does not put the old value back in L1', () => {
  const suite = redisSuite();

  it('after a peek() and a set() of the same key overlap, get() returns the value set', async () => {
    const keyPrefix = uniquePrefix('peek-race');
    const { cache: other } = await suite.app({ keyPrefix, l1: false });
    const { cache } = await suite.app({ keyPrefix, l1: { ttl: 60_000 } });
    await other.set('k', 'old');
    // Both go out on one connection in this order: the peek's read is answered with 'old'
    // after the set has already replaced the value.
    const peeked = cache.peek('k');
    const written = cache.set('k', 'new');
    await Promise.all([peeked, written]);
    expect(await cache.get('k')).toBe('new');
    expect(await cache.getOrSet('k', async () => 'loaded')).toBe('new');
  });
});
