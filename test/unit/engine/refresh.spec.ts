import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { leaseKey } from '../../../lib/shared/shared-tier.interface.js';
import { closeAll, counting, deferred, fleet, settle } from './support/engine-fleet.js';

/**
 * Background refreshes (grace period and early refresh): one per key in a process and one in
 * the fleet, a result that reaches the shared tier, a newer value found there used instead of
 * loading, and evictions during a refresh winning over it.
 */
const T0 = Date.UTC(2026, 0, 1);
const GRACE = { ttl: 1_000, grace: 60_000 };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});

afterEach(async () => {
  await closeAll();
  vi.useRealTimers();
});

const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

/** Two instances that both hold `old` in L1, now in its grace period. */
async function staleOnBoth(opts: object = GRACE) {
  const { broker, instances } = await fleet(2);
  const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
  await a.cache.getOrSet('k', () => 'old', opts);
  await settle();
  expect(await b.cache.getOrSet('k', () => 'unused', opts)).toBe('old');
  later(1_500);
  return { broker, a, b };
}

describe('Refresher', () => {
  it('runs one refresh per key however many stale reads start one, and stores its result in both tiers', async () => {
    const { broker, a, b } = await staleOnBoth();
    const gate = deferred<string>();
    const l = counting(() => gate.promise);
    const reads = await Promise.all([a.cache.getOrSet('k', l.loader, GRACE), a.cache.getOrSet('k', l.loader, GRACE), a.cache.getOrSet('k', l.loader, GRACE)]);
    expect(reads).toEqual(['old', 'old', 'old']);
    await settle();
    expect(l.runs()).toBe(1);
    expect(a.engine.keys.busy).toBe(1);
    gate.resolve('new');
    await settle();
    expect(a.engine.keys.busy).toBe(0);
    expect(a.engine.stats).toMatchObject({ refreshes: 1, refreshErrors: 0 });
    expect(await a.cache.getOrSet('k', l.loader, GRACE)).toBe('new');
    // The other instance's copy was dropped by the announcement; it reads the refreshed value.
    expect(await b.cache.getOrSet('k', l.loader, GRACE)).toBe('new');
    expect(l.runs()).toBe(1);
    expect(broker.keys()).not.toContain(leaseKey('app:{k}'));
  });

  it('does not refresh where another instance holds the lease: that one refreshes', async () => {
    const { a, b } = await staleOnBoth();
    const gate = deferred<string>();
    expect(await a.cache.getOrSet('k', () => gate.promise, GRACE)).toBe('old');
    await settle();
    const lb = counting(() => 'from-b');
    expect(await b.cache.getOrSet('k', lb.loader, { ...GRACE, softTimeout: 5_000 })).toBe('old');
    await settle();
    expect(lb.runs()).toBe(0);
    expect(b.engine.stats.refreshes).toBe(0);
    // No backoff on B: the lease holder's refresh is no failure.
    expect(b.engine.keys.inBackoff('k')).toBe(false);
    gate.resolve('from-a');
    await settle();
    expect(await b.cache.getOrSet('k', lb.loader, GRACE)).toBe('from-a');
  });

  it('uses a value another instance refreshed meanwhile instead of loading', async () => {
    const { broker, a, b } = await staleOnBoth();
    // B does not hear A's announcement: its L1 copy stays stale.
    b.tier.dropMessages(true);
    later(10);
    expect(await a.cache.getOrSet('k', async () => 'from-a', { ...GRACE, softTimeout: 5_000 })).toBe('from-a');
    await settle();
    const lb = counting(() => 'from-b');
    expect(await b.cache.getOrSet('k', lb.loader, { ...GRACE, softTimeout: 5_000 })).toBe('from-a');
    await settle();
    expect(lb.runs()).toBe(0);
    expect(b.engine.stats.refreshes).toBe(0);
    // B took the lease to look, and gave it back.
    expect(broker.keys()).not.toContain(leaseKey('app:{k}'));
    expect(await b.cache.getOrSet('k', lb.loader, GRACE)).toBe('from-a');
    expect(b.engine.stats.staleServed).toBe(1);
  });

  it('loads when the shared tier holds only the value it saw', async () => {
    const { b } = await staleOnBoth();
    const lb = counting(() => 'from-b');
    expect(await b.cache.getOrSet('k', lb.loader, { ...GRACE, softTimeout: 5_000 })).toBe('from-b');
    expect(lb.runs()).toBe(1);
    expect(b.engine.stats.refreshes).toBe(1);
  });

  it('with lock: false refreshes without a lease and still stores the result for the other instances', async () => {
    const opts = { ...GRACE, lock: false };
    const { broker, a, b } = await staleOnBoth(opts);
    b.tier.dropMessages(true);
    expect(await a.cache.getOrSet('k', async () => 'new', { ...opts, softTimeout: 5_000 })).toBe('new');
    await settle();
    expect(a.engine.stats).toMatchObject({ leaseAcquired: 0, refreshes: 1 });
    expect(broker.keys()).not.toContain(leaseKey('app:{k}'));
    // B's stale copy is gone only once it hears of it; the shared tier has the new value.
    b.engine.l1?.clear();
    expect(await b.cache.get('k')).toBe('new');
  });

  it('refreshes into L1 when the shared tier is down', async () => {
    const { broker, a } = await staleOnBoth();
    broker.setDown(true);
    expect(await a.cache.getOrSet('k', async () => 'new', { ...GRACE, softTimeout: 5_000 })).toBe('new');
    expect(a.engine.stats.refreshes).toBe(1);
    expect(await a.cache.getOrSet('k', async () => 'unused', GRACE)).toBe('new');
  });

  it('a failed refresh counts, serves the stale value and backs off', async () => {
    const { a } = await staleOnBoth();
    const l = counting(async (): Promise<string> => {
      throw new Error('db down');
    });
    expect(await a.cache.getOrSet('k', l.loader, { ...GRACE, softTimeout: 5_000 })).toBe('old');
    expect(a.engine.stats).toMatchObject({ refreshes: 1, refreshErrors: 1 });
    expect(a.engine.keys.inBackoff('k')).toBe(true);
    expect(a.engine.keys.busy).toBe(0);
  });

  it('an eviction during a refresh wins: nothing stored, and the next caller loads afresh', async () => {
    const { broker, a, b } = await staleOnBoth();
    const gate = deferred<string>();
    expect(await a.cache.getOrSet('k', () => gate.promise, GRACE)).toBe('old');
    await settle();
    await a.cache.del('k');
    const after = a.cache.getOrSet('k', async () => 'after-del', GRACE);
    gate.resolve('before-del');
    expect(await after).toBe('after-del');
    await settle();
    expect(await a.cache.get('k')).toBe('after-del');
    expect(await b.cache.get('k')).toBe('after-del');
    expect(broker.keys()).not.toContain(leaseKey('app:{k}'));
  });

  // Fuzz seed 985973901, path 1410:14:... (issue 13): the refresh went on to run its loader after
  // a del() superseded it, while a call made before the del() loaded too: two loaders of one key
  // at once in one process.
  it('a refresh an eviction superseded before its loader ran does not run it, and frees its lease', async () => {
    const { broker, a } = await staleOnBoth();
    // The refresh's lease reply comes after the eviction.
    const gate = deferred<void>();
    broker.schedule = (p, label) => (label === 'acquire app:{k}:reply' ? gate.promise.then(() => p) : p);
    const refresh = counting(() => 'before-del');
    expect(await a.cache.getOrSet('k', refresh.loader, GRACE)).toBe('old');
    await settle();
    broker.schedule = undefined;
    await a.cache.del('k');
    gate.resolve();
    await settle();
    expect(refresh.runs()).toBe(0);
    expect(a.engine.keys.busy).toBe(0);
    expect(broker.keys()).not.toContain(leaseKey('app:{k}'));
    expect(await a.cache.getOrSet('k', async () => 'after-del', GRACE)).toBe('after-del');
  });

  it('a newer value found in the shared tier is not back-filled when an eviction overtook the refresh', async () => {
    const { broker, a, b } = await staleOnBoth();
    b.tier.dropMessages(true);
    later(10);
    expect(await a.cache.getOrSet('k', async () => 'from-a', { ...GRACE, softTimeout: 5_000 })).toBe('from-a');
    await settle();
    // B's refresh reads the shared tier; the reply comes after B evicted the key.
    const gate = deferred<void>();
    broker.schedule = (p, label) => (label === 'get app:{k}:reply' ? gate.promise.then(() => p) : p);
    const read = b.cache.getOrSet('k', async () => 'from-b', GRACE);
    expect(await read).toBe('old');
    await settle();
    broker.schedule = undefined;
    b.engine.local.evict('k');
    gate.resolve();
    await settle();
    expect(b.engine.l1?.get('k')).toBeUndefined();
  });

  it('loads when the newer value another instance stored has expired too', async () => {
    const { a, b } = await staleOnBoth();
    b.tier.dropMessages(true);
    later(10);
    expect(await a.cache.getOrSet('k', async () => 'from-a', { ...GRACE, softTimeout: 5_000 })).toBe('from-a');
    await settle();
    later(2_000);
    const lb = counting(() => 'from-b');
    expect(await b.cache.getOrSet('k', lb.loader, { ...GRACE, softTimeout: 5_000 })).toBe('from-b');
    expect(lb.runs()).toBe(1);
  });

  it('a tag invalidated during a refresh of a tagged entry wins: the next caller does not get the refresh’s result', async () => {
    const { a } = await staleOnBoth({ ...GRACE, tags: ['t'] });
    const gate = deferred<string>();
    expect(await a.cache.getOrSet('k', () => gate.promise, { ...GRACE, tags: ['t'] })).toBe('old');
    await settle();
    await a.cache.invalidateTags('t');
    later(5);
    const after = a.cache.getOrSet('k', async () => 'after-invalidation', { ...GRACE, tags: ['t'] });
    await settle();
    gate.resolve('before-invalidation');
    expect(await after).toBe('after-invalidation');
  });

  it('with lock: false (no lease to dedupe) still one refresh per key in this process', async () => {
    const opts = { ...GRACE, lock: false };
    const { a } = await staleOnBoth(opts);
    const gate = deferred<string>();
    const l = counting(() => gate.promise);
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    gate.resolve('new');
    await settle();
    expect(l.runs()).toBe(1);
  });
});
