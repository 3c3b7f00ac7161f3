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

  it('a copy of a shared-tier entry is checked there again once the trust of its tags runs out', () => {
    const tags = new TagIndex(new NullSharedTier(), 'p:', 1_000);
    const now = Date.now();
    tags.received(['catalog'], now - 5_000);
    const copy = l1Entry('v', now - 100, now + 60_000, now + 60_000, 0, 0, ['catalog']);
    copy.tagsTrustedUntil = tags.trustedUntil(['catalog']);
    expect(copy.tagsTrustedUntil).toBeGreaterThanOrEqual(now + 1_000);
    expect(tags.staleInL1(copy)).toBe(false);
    copy.tagsTrustedUntil = now - 1;
    expect(tags.staleInL1(copy)).toBe(true);
    // A tag not known here (forgotten for room) is trusted not at all.
    expect(tags.trustedUntil(['catalog', 'unknown'])).toBe(0);
    // An entry loaded or set here carries no such limit.
    expect(l1Entry('v', now, now + 1, now + 1, 0, 0, ['catalog']).tagsTrustedUntil).toBe(Number.POSITIVE_INFINITY);
  });
});
