import { describe, expect, it } from 'vitest';
import { sleepUntil, uniquePrefix } from '../support/app.js';
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

  // Found by the interleaving fuzz (seed 323282773): a read near the end of the tag's trust put the
  // invalidated entry back in L1 for a whole l1.ttl, so B served it for up to twice l1.ttl.
  it('a copy B makes while it still trusts the old timestamp does not outlive that trust', async () => {
    const keyPrefix = uniquePrefix('tag-trust');
    const { cache: a } = await suite.app({ keyPrefix, bus: false, tracking: false, l2Timeout: 2_000 });
    const { cache: b } = await suite.app({ keyPrefix, bus: false, tracking: false, l2Timeout: 2_000, l1: { ttl: 1_000 } });
    await a.set('catalog', 'old prices', { tags: ['prices'], ttl: 60_000 });
    expect(await b.getOrSet('catalog', async () => 'loaded', { tags: ['prices'], l1Ttl: 50 })).toBe('old prices');
    const learnt = Date.now();
    await a.invalidateTags('prices');
    // Within the trust B may still serve the old entry (its bound is l1.ttl); this read copies it to L1.
    await sleepUntil(learnt + 700);
    await b.get('catalog');
    await sleepUntil(learnt + 1_050);
    expect(await b.get('catalog')).toBeUndefined();
  });
});
