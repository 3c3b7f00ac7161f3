import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../support/app.js';

/**
 * Counterexamples the in-memory interleaving properties (interleavings.property.spec.ts) found,
 * shrunk and written out as plain examples. Each names the seed and the shrunk batches.
 */
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (closers.length) await closers.pop()!();
});

async function l1Only(options: object) {
  const { app, cache } = await createApp({ redis: false, ...options });
  closers.push(() => app.close());
  return cache;
}

describe('counterexamples found by the interleaving properties', () => {
  // fast-check seed -1498907393, path "19:10:1:3:10:9:10:9:9:7" (L1 only, tags):
  //   [put k0 (tag even)], [invalidateTags(odd), getOrSet k0, invalidateTags(even)], [get k0]
  //   -> get returned the entry put before invalidateTags(even) resolved. A read between two
  //   invalidations in one millisecond marks the entry "checked" at the watermark, and the
  //   second invalidation does not move the watermark (TagIndex.staleInL1, tagCheck).
  it('misses a tagged entry after invalidateTags, even when another tag was invalidated in the same millisecond', async () => {
    const cache = await l1Only({});
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_800_000_000_000);
    await cache.set('k0', 'before', { tags: ['even'] });
    await cache.invalidateTags(['odd']);
    expect(await cache.getOrSet('k0', async () => 'loaded')).toBe('before');
    await cache.invalidateTags(['even']);
    expect(await cache.get('k0')).toBeUndefined();
  });

  // fast-check seed -1251259429, path "74:6:2:2:2:1:4:6:5:5:5:5:6:6" (L1 only):
  //   [put k0], [set(k0, null, { nullTtl: 0 })], [get k0]
  //   -> get returned the value put before: storing nothing left the old entry (issue 12, defect 4).
  it('evicts the old value when set(key, null) stores nothing (nullTtl: 0)', async () => {
    const cache = await l1Only({});
    await cache.set('k0', 'before');
    await cache.set('k0', null, { nullTtl: 0 });
    expect(await cache.get('k0')).toBeUndefined();
  });

  // fast-check seed 1062198617, path "68:13:7:7:7:7:7:7:6:6:6:6:6:6:6" (L1 only, tags):
  //   [invalidateTags(odd), together[getOrSet k1 (tag odd, slow loader), getOrSet k1, getOrSet k1]]
  //   -> a getOrSet made after invalidateTags resolved joined the load that began before it and
  //   got the invalidated row: invalidating a tag did not supersede loads of entries carrying it.
  it('a call made after invalidateTags does not join a load of a tagged entry that began before it', async () => {
    const cache = await l1Only({});
    let version = 0;
    let finishFirst!: () => void;
    let started!: () => void;
    const loaderStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const first = cache.getOrSet(
      'k1',
      () =>
        new Promise<number>((resolve) => {
          const read = version;
          finishFirst = () => resolve(read);
          started();
        }),
      { tags: ['odd'] },
    );
    await loaderStarted;
    version = 1;
    await cache.invalidateTags(['odd']);
    const second = cache.getOrSet('k1', async () => version, { tags: ['odd'] });
    finishFirst();
    expect(await first).toBe(0);
    expect(await second).toBe(1);
    expect(await cache.get('k1')).toBe(1);
  });
});
