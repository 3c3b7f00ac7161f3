import { describe, expect, it } from 'vitest';
import { uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 6: a tag invalidation an instance missed on the bus reaches it within l1.ttl', () => {
  const suite = redisSuite();

  it('an instance that learned a tag’s timestamp stops serving its entries within l1.ttl of an invalidation it was not told about', async () => {
    const keyPrefix = uniquePrefix('tag-known');
    // No bus and no tracking (which would report the tag marker's change): B hears of nothing A
    // does and has only its L1 TTL (100 ms) to bound staleness.
    const { cache: a } = await suite.app({ keyPrefix, bus: false, tracking: false, l2Timeout: 2_000 });
    const { cache: b } = await suite.app({ keyPrefix, bus: false, tracking: false, l2Timeout: 2_000, l1: { ttl: 100 } });
    await a.set('catalog', 'old prices', { tags: ['prices'], ttl: 60_000 });
    expect(await b.get('catalog')).toBe('old prices'); // B has now looked up the tag
    await a.invalidateTags('prices');
    expect(await a.get('catalog')).toBeUndefined();
    await expect.poll(() => b.get('catalog'), { timeout: 2_000, interval: 20 }).toBeUndefined();
  });
});
