import { describe, expect, it } from 'vitest';
import { l1Entry } from '../../../lib/l1/memory-tier.js';
import { NullSharedTier } from '../../../lib/shared/null-shared-tier.js';
import { TagIndex } from '../../../lib/tags/tag-index.js';

describe('tag checks on the L1 hit path', () => {
  it('an entry checked against one invalidation is checked again after another in the same millisecond', () => {
    const tags = new TagIndex(new NullSharedTier(), 'p:', 60_000);
    const at = 1_000_000;
    tags.received(['prices'], at);
    // Created before the first invalidation of `catalog`'s sibling tag: checked, and still valid.
    const entry = l1Entry('v', at - 10, at + 60_000, at + 60_000, 0, 0, ['catalog']);
    tags.received(['catalog'], at - 20);
    expect(tags.staleInL1(entry)).toBe(false);
    // `catalog` is invalidated again at the watermark's own millisecond: the entry is stale.
    tags.received(['catalog'], at);
    expect(tags.staleInL1(entry)).toBe(true);
  });

  it('skips the lookups for entries created after every invalidation it knows', () => {
    const tags = new TagIndex(new NullSharedTier(), 'p:', 60_000);
    tags.received(['catalog'], 500);
    expect(tags.staleInL1(l1Entry('v', 501, 10_000, 10_000, 0, 0, ['catalog']))).toBe(false);
    expect(tags.staleInL1(l1Entry('v', 500, 10_000, 10_000, 0, 0, ['catalog']))).toBe(true);
  });
});
