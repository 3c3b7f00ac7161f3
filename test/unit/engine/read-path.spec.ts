import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LoaderTimeoutError } from '../../../lib/resilience/timeouts.js';
import { FAILED } from '../../../lib/shared/shared-tier.interface.js';
import { closeAll, counting, deferred, fleet, l1Only, settle } from './support/engine-fleet.js';

/**
 * The read path step by step (README "How a read is answered"): which step answers, what it
 * counts, and what it leaves in L1. Engines run over the in-memory shared tier; Date is faked
 * where an entry's age matters (lru-cache and timeouts keep real time).
 */
const T0 = Date.UTC(2026, 0, 1);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await closeAll();
  vi.useRealTimers();
});

const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

describe('read path: L1', () => {
  it('answers a repeated read from L1 without a loader run or a shared-tier read', async () => {
    const { broker, instances } = await fleet(1);
    const a = instances[0]!;
    const l = counting(() => 'v');
    expect(await a.cache.getOrSet('k', l.loader)).toBe('v');
    await settle();
    broker.setDown(true);
    expect(await a.cache.getOrSet('k', l.loader)).toBe('v');
    expect(l.runs()).toBe(1);
    expect(a.engine.stats).toMatchObject({ l1Hits: 1, l1Misses: 1, l2Hits: 0, l2Misses: 1, loads: 1, corrupt: 0 });
  });

  it('does not serve an L1 copy whose tag was invalidated, and drops it', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const l = counting((n) => `v${n}`);
    expect(await a.cache.getOrSet('k', l.loader, { tags: ['t'] })).toBe('v1');
    await settle();
    later(5);
    await a.cache.invalidateTags('t');
    later(5);
    expect(a.engine.read.freshInL1('k')).toBeUndefined();
    expect(a.engine.l1?.get('k')).toBeUndefined();
    expect(await a.cache.getOrSet('k', l.loader, { tags: ['t'] })).toBe('v2');
    expect(l.runs()).toBe(2);
  });

  it('keeps an expired L1 copy with grace (served stale) but never as fresh', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    await a.cache.getOrSet('k', () => 'v1', { ttl: 1_000, grace: 60_000 });
    await settle();
    later(999);
    expect(a.engine.read.freshInL1('k')?.value).toBe('v1');
    later(1);
    expect(a.engine.read.freshInL1('k')).toBeUndefined();
    expect(a.engine.l1?.get('k')?.value).toBe('v1');
    expect(a.engine.stats).toMatchObject({ l1Hits: 1, l1Misses: 2 });
  });

  it('keeps an L1-only entry for its whole life, past l1.ttl', async () => {
    const { cache, engine } = await l1Only({ l1: { max: 10, ttl: 20 } });
    const l = counting((n) => `v${n}`);
    await cache.getOrSet('k', l.loader, { ttl: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await cache.getOrSet('k', l.loader)).toBe('v1');
    expect(l.runs()).toBe(1);
    expect(engine.stats.l1Hits).toBe(1);
  });

  it('with a shared tier keeps an L1 copy no longer than l1.ttl, then reads the shared tier', async () => {
    const { instances } = await fleet(1, { l1: { max: 10, ttl: 20 } });
    const a = instances[0]!;
    const l = counting((n) => `v${n}`);
    await a.cache.getOrSet('k', l.loader, { ttl: 60_000 });
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await a.cache.getOrSet('k', l.loader)).toBe('v1');
    expect(l.runs()).toBe(1);
    expect(a.engine.stats).toMatchObject({ l1Hits: 0, l2Hits: 1 });
  });
});

describe('read path: shared tier', () => {
  it('serves what another instance stored on its first call and back-fills L1', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => 'from-a');
    await settle();
    const lb = counting(() => 'from-b');
    expect(await b.cache.getOrSet('k', lb.loader)).toBe('from-a');
    expect(b.engine.stats).toMatchObject({ l1Misses: 1, l2Hits: 1, loads: 0 });
    broker.setDown(true);
    expect(await b.cache.getOrSet('k', lb.loader)).toBe('from-a');
    expect(lb.runs()).toBe(0);
    expect(b.engine.stats.l1Hits).toBe(1);
  });

  it('back-fills L1 only for what is left of the entry when that is shorter than l1.ttl', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'v', { ttl: 60_000 });
    await settle();
    later(59_990);
    await b.cache.get('k');
    expect(b.engine.l1?.get('k')?.value).toBe('v');
    expect(b.engine.read.l1Ttl(b.engine.l1!.get('k')!, Date.now(), b.engine.options.entry)).toBe(10);
  });

  it('does not back-fill L1 where early refresh may fire: such reads go to the shared tier', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => new Promise((resolve) => setTimeout(() => resolve('v'), 5)), { ttl: 60_000 });
    await settle();
    // Beta so large that the window opens at once; a random draw that never fires.
    vi.spyOn(Math, 'random').mockReturnValue(1 - 1e-12);
    const lb = counting(() => 'b');
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: 1e9 })).toBe('v');
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: 1e9 })).toBe('v');
    expect(b.engine.stats).toMatchObject({ l1Hits: 0, l2Hits: 2, earlyRefreshes: 0 });
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: false })).toBe('v');
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: false })).toBe('v');
    expect(b.engine.stats).toMatchObject({ l1Hits: 1, l2Hits: 3 });
    expect(lb.runs()).toBe(0);
  });

  it('treats bytes that do not decode as a miss: counted, deleted, loaded again', async () => {
    const { broker, instances } = await fleet(1);
    const a = instances[0]!;
    broker.write('app:{k}', 'not an envelope', 60_000);
    expect(await a.cache.get('k')).toBeUndefined();
    expect(a.engine.stats.corrupt).toBe(1);
    await settle();
    expect(broker.read('app:{k}')).toBeNull();
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
  });

  it('does not serve a shared entry whose tag another instance invalidated while this one was not listening', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => 'old', { tags: ['t'] });
    await settle();
    b.tier.dropMessages(true);
    later(5);
    await a.cache.invalidateTags('t');
    await settle();
    b.tier.dropMessages(false);
    later(5);
    const lb = counting(() => 'new');
    expect(await b.cache.getOrSet('k', lb.loader, { tags: ['t'] })).toBe('new');
    expect(lb.runs()).toBe(1);
    expect(b.engine.stats.l2Hits).toBe(0);
  });

  it('serves an untagged shared entry without a tag lookup, and a tagged one whose tag is intact', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('plain', () => 'p');
    await a.cache.getOrSet('tagged', () => 't', { tags: ['t'] });
    await settle();
    const lb = counting(() => 'b');
    expect(await b.cache.getOrSet('plain', lb.loader)).toBe('p');
    expect(await b.cache.getOrSet('tagged', lb.loader, { tags: ['t'] })).toBe('t');
    expect(lb.runs()).toBe(0);
    expect(b.engine.stats.l2Hits).toBe(2);
  });

  it('loads when the shared tier is down, without a lease, and the call succeeds', async () => {
    const { broker, instances } = await fleet(1);
    const a = instances[0]!;
    broker.setDown(true);
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    expect(a.engine.stats).toMatchObject({ loads: 1, leaseAcquired: 0, leaseWaits: 0 });
    expect(await a.cache.getOrSet('k', () => 'other')).toBe('v');
  });

  it('loads without asking for a lease when the shared tier did not answer the read', async () => {
    vi.useRealTimers();
    const { broker, instances } = await fleet(1, {}, { timeoutMs: 30 });
    const a = instances[0]!;
    broker.setHung(true);
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    expect(a.engine.stats).toMatchObject({ loads: 1, leaseAcquired: 0, leaseWaits: 0, corrupt: 0 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Only the read was sent (and timed out): no lease command followed it.
    expect(a.tier.timeouts).toBe(1);
    broker.setHung(false);
  });
});

describe('read path: fleet lease', () => {
  it('one instance loads; another waits for its value instead of running its own loader', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const gate = deferred<string>();
    const pa = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const lb = counting(() => 'from-b');
    const pb = b.cache.getOrSet('k', lb.loader);
    await settle();
    expect(b.engine.stats.leaseWaits).toBe(1);
    gate.resolve('from-a');
    expect(await pa).toBe('from-a');
    expect(await pb).toBe('from-a');
    expect(lb.runs()).toBe(0);
    expect(a.engine.stats.leaseAcquired).toBe(1);
    // The waiter back-filled its L1 with what it was handed.
    broker.setDown(true);
    expect(await b.cache.getOrSet('k', lb.loader)).toBe('from-a');
  });

  it('with lock: false each instance loads, and a load overtaken by a write elsewhere is not stored', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const gate = deferred<string>();
    // A does not hear B's announcement: only the write version can stop its store.
    a.tier.dropMessages(true);
    const pa = a.cache.getOrSet('k', () => gate.promise, { lock: false });
    await settle();
    await b.cache.set('k', 'written');
    gate.resolve('loaded');
    expect(await pa).toBe('loaded');
    await settle();
    expect(a.engine.stats.leaseLost).toBe(1);
    expect(a.engine.l1?.get('k')).toBeUndefined();
    expect(await a.cache.get('k')).toBe('written');
    expect(a.engine.stats.leaseWaits).toBe(0);
    expect(typeof broker.read('app:{k}')).not.toBe('undefined');
  });

  it('with lock: false a load nobody overtook is stored for the other instances', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    expect(await a.cache.getOrSet('k', () => 'loaded', { lock: false })).toBe('loaded');
    await settle();
    expect(await b.cache.get('k')).toBe('loaded');
    expect(a.engine.stats.leaseAcquired).toBe(0);
  });
});

describe('read path: one round trip per miss under the lease', () => {
  /** Misses on fresh keys until the instance expects misses (a moving average over ~16 reads). */
  const missRun = async (cache: { getOrSet: (k: string, l: () => unknown) => Promise<unknown> }, n = 24) => {
    for (let i = 0; i < n; i++) await cache.getOrSet(`cold:${i}`, () => i);
    await settle();
  };

  it('while most reads miss, a miss reads and takes the lease in one command', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    await missRun(a.cache);
    const get = vi.spyOn(a.tier, 'get');
    const acquire = vi.spyOn(a.tier, 'acquire');
    const readOrLease = vi.spyOn(a.tier, 'readOrLease');
    const leases = a.engine.stats.leaseAcquired;
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    expect(readOrLease).toHaveBeenCalledTimes(1);
    expect(get).not.toHaveBeenCalled();
    expect(acquire).not.toHaveBeenCalled();
    expect(a.engine.stats.leaseAcquired).toBe(leases + 1);
    // The lease was the load's: its value was stored through it, and the lease is gone.
    await settle();
    expect(await a.tier.readOrLease('app:{k}', 'other', 1_000)).toBeTypeOf('string');
  });

  it('while reads hit, a read stays a plain read (no lease script on an L2 hit)', async () => {
    const { instances } = await fleet(1, { l1: false });
    const a = instances[0]!;
    await missRun(a.cache);
    const readOrLease = vi.spyOn(a.tier, 'readOrLease');
    const get = vi.spyOn(a.tier, 'get');
    // Hits through the script at first; they bring the miss rate down.
    for (let r = 0; r < 2; r++) for (let i = 0; i < 24; i++) expect(await a.cache.getOrSet(`cold:${i}`, () => 'reloaded')).toBe(i);
    expect(readOrLease).toHaveBeenCalled();
    readOrLease.mockClear();
    get.mockClear();
    expect(await a.cache.getOrSet('cold:3', () => 'reloaded')).toBe(3);
    expect(get).toHaveBeenCalledTimes(1);
    expect(readOrLease).not.toHaveBeenCalled();
    expect(a.engine.stats.loads).toBe(24);
  });

  it('a lease the read took goes back when a refresh already running here answers the load', async () => {
    const { instances, broker } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => 'v1', { ttl: 60_000 });
    await missRun(b.cache);
    // B's early refresh runs without a lease (the lease command fails), so the lease stays free.
    vi.spyOn(b.tier, 'acquire').mockResolvedValue(FAILED);
    vi.spyOn(Math, 'random').mockReturnValue(1e-300);
    const gate = deferred<string>();
    const lb = counting(() => gate.promise);
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: 1e9 })).toBe('v1');
    later(61_000);
    const waiting = b.cache.getOrSet('k', lb.loader);
    await settle();
    expect(broker.keys()).toContain('app:{k}:lease');
    gate.resolve('v2');
    expect(await waiting).toBe('v2');
    expect(lb.runs()).toBe(1);
    await settle();
    expect(broker.keys()).not.toContain('app:{k}:lease');
  });

  it('a miss whose read finds another instance holding the lease waits for its value without asking again', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await missRun(b.cache);
    const gate = deferred<string>();
    const pa = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const acquire = vi.spyOn(b.tier, 'acquire');
    const lb = counting(() => 'from-b');
    const pb = b.cache.getOrSet('k', lb.loader);
    await settle();
    expect(b.engine.stats.leaseWaits).toBe(1);
    gate.resolve('from-a');
    expect(await pa).toBe('from-a');
    expect(await pb).toBe('from-a');
    expect(lb.runs()).toBe(0);
    expect(acquire).not.toHaveBeenCalled();
  });
});

describe('read path: the fill announcement', () => {
  it('with tracking on, a load nobody waited for is stored without a bus message', async () => {
    const { instances } = await fleet(2, {}, { tracking: true });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    await settle();
    expect(await b.cache.get('k')).toBe('v');
    expect(b.engine.stats.busReceived).toBe(0);
  });

  it('with tracking on, a load another instance waits for still wakes it', async () => {
    const { instances } = await fleet(2, { leaseTtl: 20_000, lockWaitTimeout: 20_000 }, { tracking: true });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const gate = deferred<string>();
    const pa = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const pb = b.cache.getOrSet('k', () => 'from-b');
    await settle();
    expect(b.engine.stats.leaseWaits).toBe(1);
    gate.resolve('from-a');
    expect(await pa).toBe('from-a');
    // Without the announcement B would sleep until the lease's 20 s were up.
    expect(await pb).toBe('from-a');
    expect(b.engine.stats.busReceived).toBe(1);
  });

  it('without tracking, every load is announced: it ends the L1 copies of other instances', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    await settle();
    expect(b.engine.stats.busReceived).toBe(1);
  });
});

describe('read path: one load per key', () => {
  it('concurrent callers share one loader run and count as coalesced', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const gate = deferred<string>();
    const l = counting(() => gate.promise);
    const calls = [a.cache.getOrSet('k', l.loader), a.cache.getOrSet('k', l.loader), a.cache.getOrSet('k', l.loader)];
    gate.resolve('v');
    expect(await Promise.all(calls)).toEqual(['v', 'v', 'v']);
    expect(l.runs()).toBe(1);
    expect(a.engine.stats.coalesced).toBe(2);
    expect(a.engine.keys.busy).toBe(0);
  });

  it('every coalesced caller gets a failed load’s error; the error is not cached and the next call loads again', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const gate = deferred<string>();
    const l = counting((n) => (n === 1 ? gate.promise : 'ok'));
    const calls = [a.cache.getOrSet('k', l.loader), a.cache.getOrSet('k', l.loader)];
    gate.reject(new Error('db down'));
    for (const c of calls) await expect(c).rejects.toThrow('db down');
    expect(await a.cache.getOrSet('k', l.loader)).toBe('ok');
    expect(l.runs()).toBe(2);
  });

  it('hardTimeout: the caller gets LoaderTimeoutError, the load goes on, its result is cached', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const gate = deferred<string>();
    const l = counting(() => gate.promise);
    const first = a.cache.getOrSet('k', l.loader, { hardTimeout: 20 });
    await expect(first).rejects.toBeInstanceOf(LoaderTimeoutError);
    expect(a.engine.stats.hardTimeouts).toBe(1);
    // A second caller meanwhile joins the load still running.
    const second = a.cache.getOrSet('k', l.loader);
    gate.resolve('late');
    expect(await second).toBe('late');
    await settle();
    expect(await a.cache.getOrSet('k', l.loader, { hardTimeout: 20 })).toBe('late');
    expect(l.runs()).toBe(1);
    expect(a.engine.stats.coalesced).toBe(1);
  });

  it('hardTimeout does not cut a load that finishes in time', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    expect(await a.cache.getOrSet('k', async () => 'quick', { hardTimeout: 5_000 })).toBe('quick');
    expect(a.engine.stats.hardTimeouts).toBe(0);
  });

  it('hardTimeout with a stale value waiting on softTimeout: the caller gets the stale value, not an error', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    await a.cache.getOrSet('k', () => 'old', { ttl: 1_000, grace: 60_000 });
    await settle();
    later(2_000);
    const gate = deferred<string>();
    const p = a.cache.getOrSet('k', () => gate.promise, { ttl: 1_000, grace: 60_000, softTimeout: 10_000, hardTimeout: 20 });
    expect(await p).toBe('old');
    expect(a.engine.stats.hardTimeouts).toBe(0);
    gate.resolve('new');
    await settle();
    expect(await a.cache.get('k')).toBe('new');
  });
});

describe('read path: grace period', () => {
  it('serves a stale L1 value at once while one background refresh runs, then the refreshed value', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 1_000, grace: 60_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await settle();
    later(1_500);
    const gate = deferred<string>();
    const l = counting(() => gate.promise);
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(l.runs()).toBe(1);
    expect(a.engine.stats).toMatchObject({ staleServed: 2, refreshes: 1, softTimeouts: 0 });
    gate.resolve('new');
    await settle();
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('new');
    expect(l.runs()).toBe(1);
  });

  it('serves a stale shared-tier value to an instance without an L1 copy, and back-fills it', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const opts = { ttl: 1_000, grace: 60_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await settle();
    later(1_500);
    const gate = deferred<string>();
    const lb = counting(() => gate.promise);
    expect(await b.cache.getOrSet('k', lb.loader, opts)).toBe('old');
    expect(b.engine.stats).toMatchObject({ staleServed: 1, l2Hits: 1 });
    expect(b.engine.l1?.get('k')?.value).toBe('old');
    await settle();
    expect(lb.runs()).toBe(1);
    gate.resolve('new');
    await settle();
    expect(await b.cache.getOrSet('k', lb.loader, opts)).toBe('new');
  });

  it('a stale shared-tier value read before an eviction here is served but not back-filled', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const opts = { ttl: 1_000, grace: 60_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await settle();
    later(1_500);
    const gate = deferred<void>();
    broker.schedule = (p, label) => (label === 'get app:{k}:reply' ? gate.promise.then(() => p) : p);
    const refresh = deferred<string>();
    const read = b.cache.getOrSet('k', () => refresh.promise, opts);
    await settle();
    broker.schedule = undefined;
    await a.cache.del('k');
    await settle();
    gate.resolve();
    expect(await read).toBe('old');
    expect(b.engine.l1?.get('k')).toBeUndefined();
    refresh.resolve('new');
  });

  it('past the grace period the caller waits for the loader', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 1_000, grace: 5_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await settle();
    later(6_000);
    expect(await a.cache.getOrSet('k', () => 'new', opts)).toBe('new');
    expect(a.engine.stats.staleServed).toBe(0);
  });

  it('get() serves a value in its grace period only as a miss', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => 'old', { ttl: 1_000, grace: 60_000 });
    await settle();
    later(1_500);
    expect(await b.cache.get('k')).toBeUndefined();
    expect(await b.cache.peek('k')).toBeUndefined();
  });

  it('softTimeout: a caller gets the refreshed value when the refresh is done in time', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 30, grace: 60_000, softTimeout: 5_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await a.cache.getOrSet('k', async () => 'new', opts)).toBe('new');
    expect(a.engine.stats).toMatchObject({ staleServed: 1, softTimeouts: 0 });
  });

  it('softTimeout: past it the caller gets the stale value and the refresh goes on', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 30, grace: 60_000, softTimeout: 20 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const gate = deferred<string>();
    expect(await a.cache.getOrSet('k', () => gate.promise, opts)).toBe('old');
    expect(a.engine.stats.softTimeouts).toBe(1);
    gate.resolve('new');
    await settle();
    expect(await a.cache.getOrSet('k', () => 'unused', opts)).toBe('new');
  });

  it('softTimeout: a refresh that fails is not waited for: the stale value, no timeout counted', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 30, grace: 60_000, softTimeout: 5_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      await a.cache.getOrSet(
        'k',
        async () => {
          throw new Error('db down');
        },
        opts,
      ),
    ).toBe('old');
    expect(a.engine.stats).toMatchObject({ softTimeouts: 0, refreshErrors: 1 });
  });

  it('after a failed refresh, no refresh for graceBackoff; the stale value meanwhile; then again', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 30, grace: 60_000, graceBackoff: 80 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const l = counting(async (n): Promise<string> => {
      if (n === 1) throw new Error('db down');
      return 'new';
    });
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(a.engine.stats.refreshErrors).toBe(1);
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(l.runs()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(l.runs()).toBe(2);
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('new');
  });

  it('graceBackoff: 0 retries the refresh on the next stale read', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 30, grace: 60_000, graceBackoff: 0 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const l = counting(async (n): Promise<string> => {
      if (n === 1) throw new Error('db down');
      return 'new';
    });
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(await a.cache.getOrSet('k', l.loader, opts)).toBe('old');
    await settle();
    expect(l.runs()).toBe(2);
  });
});

describe('read path: early refresh (XFetch)', () => {
  /** With a 5 ms load and a 60 s TTL, beta 100 fires on a draw near 0 and not on one near 1. */
  const BETA = { earlyRefresh: 100 };

  async function slowLoaded(opts: { earlyRefresh?: number | false } = {}) {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => new Promise((resolve) => setTimeout(() => resolve('v1'), 5)), { ttl: 60_000, ...opts });
    await settle();
    return { a, b };
  }

  it('a read from the shared tier may start a background refresh before expiry; the caller gets the current value', async () => {
    const { b } = await slowLoaded();
    vi.spyOn(Math, 'random').mockReturnValue(1e-300);
    const lb = counting(() => 'v2');
    expect(await b.cache.getOrSet('k', lb.loader, BETA)).toBe('v1');
    await settle();
    expect(b.engine.stats.earlyRefreshes).toBe(1);
    expect(lb.runs()).toBe(1);
    vi.spyOn(Math, 'random').mockReturnValue(1 - 1e-12);
    expect(await b.cache.getOrSet('k', lb.loader, BETA)).toBe('v2');
  });

  it('does not refresh early when the draw says not yet', async () => {
    const { b } = await slowLoaded();
    vi.spyOn(Math, 'random').mockReturnValue(1 - 1e-12);
    const lb = counting(() => 'v2');
    expect(await b.cache.getOrSet('k', lb.loader, BETA)).toBe('v1');
    await settle();
    expect(b.engine.stats.earlyRefreshes).toBe(0);
    expect(lb.runs()).toBe(0);
  });

  it('earlyRefresh: false never refreshes early', async () => {
    const { b } = await slowLoaded();
    vi.spyOn(Math, 'random').mockReturnValue(1e-300);
    const lb = counting(() => 'v2');
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: false })).toBe('v1');
    await settle();
    expect(b.engine.stats.earlyRefreshes).toBe(0);
    expect(lb.runs()).toBe(0);
  });

  it('an entry written with set() (no load time) is never refreshed early', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'v1');
    await settle();
    vi.spyOn(Math, 'random').mockReturnValue(1e-300);
    const lb = counting(() => 'v2');
    expect(await b.cache.getOrSet('k', lb.loader, BETA)).toBe('v1');
    await settle();
    expect(b.engine.stats.earlyRefreshes).toBe(0);
    expect(lb.runs()).toBe(0);
  });

  it('an early refresh still running when the entry expires is the load: no second loader', async () => {
    const { b } = await slowLoaded();
    vi.spyOn(Math, 'random').mockReturnValue(1e-300);
    const gate = deferred<string>();
    const lb = counting(() => gate.promise);
    // A beta this large also keeps the entry out of B's L1 (its early-refresh window is open).
    expect(await b.cache.getOrSet('k', lb.loader, { earlyRefresh: 1e9 })).toBe('v1');
    await settle();
    expect(b.engine.l1?.get('k')).toBeUndefined();
    later(61_000);
    const waiting = b.cache.getOrSet('k', lb.loader);
    await settle();
    gate.resolve('v2');
    expect(await waiting).toBe('v2');
    expect(lb.runs()).toBe(1);
  });
});

describe('read path: get() and peek()', () => {
  it('read L1, else the shared tier (back-filling L1), and never load', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    expect(await b.cache.get('k')).toBeUndefined();
    await a.cache.set('k', 'v');
    await settle();
    expect(await b.cache.peek('k')).toMatchObject({ value: 'v', createdAt: T0, expiresAt: T0 + 60_000 });
    broker.setDown(true);
    expect(await b.cache.get('k')).toBe('v');
    expect(b.engine.stats).toMatchObject({ l1Hits: 1, l2Hits: 1, l2Misses: 1, loads: 0 });
  });

  it('return nothing without a shared-tier read when the tier is down', async () => {
    const { broker, instances } = await fleet(1);
    broker.write('app:{k}', 'ignored', 60_000);
    broker.setDown(true);
    expect(await instances[0]!.cache.get('k')).toBeUndefined();
    expect(instances[0]!.engine.stats).toMatchObject({ corrupt: 0, l2Misses: 0 });
  });

  it('a read that overlapped an eviction does not back-fill L1 with what it read before', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'old');
    await settle();
    // B's read of the entry gets its reply only after A's delete reached B.
    const gate = deferred<void>();
    broker.schedule = (p, label) => (label === 'get app:{k}:reply' ? gate.promise.then(() => p) : p);
    const read = b.cache.get('k');
    await settle();
    broker.schedule = undefined;
    await a.cache.del('k');
    await settle();
    gate.resolve();
    expect(await read).toBe('old');
    expect(b.engine.l1?.get('k')).toBeUndefined();
    expect(await b.cache.get('k')).toBeUndefined();
  });

  it('a read that overlapped nothing back-fills L1', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'v');
    await settle();
    expect(await b.cache.get('k')).toBe('v');
    broker.setDown(true);
    expect(b.engine.l1?.get('k')?.value).toBe('v');
  });
});

describe('read path: edges', () => {
  it('without L1 every read goes to the shared tier and nothing counts as an L1 hit or miss', async () => {
    const { instances } = await fleet(1, { l1: false });
    const a = instances[0]!;
    const l = counting(() => 'v');
    expect(await a.cache.getOrSet('k', l.loader)).toBe('v');
    await settle();
    expect(await a.cache.getOrSet('k', l.loader)).toBe('v');
    expect(await a.cache.get('k')).toBe('v');
    expect(l.runs()).toBe(1);
    expect(a.engine.stats).toMatchObject({ l1Hits: 0, l1Misses: 0, l2Hits: 2 });
  });

  it('an entry is fresh until the millisecond of its expiry, then a miss (get) or stale (getOrSet with grace)', async () => {
    const { instances } = await fleet(3);
    const [a, b, c] = instances as [(typeof instances)[0], (typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'v', { ttl: 1_000, grace: 60_000 });
    await settle();
    later(999);
    expect(await b.cache.peek('k')).toMatchObject({ value: 'v' });
    later(1);
    b.engine.l1?.clear();
    expect(await b.cache.get('k')).toBeUndefined();
    const gate = deferred<string>();
    expect(await c.cache.getOrSet('k', () => gate.promise, { ttl: 1_000, grace: 60_000 })).toBe('v');
    expect(c.engine.stats.staleServed).toBe(1);
    gate.resolve('new');
  });

  it('a stale value is served until the millisecond its grace period ends', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 1_000, grace: 5_000 };
    await a.cache.getOrSet('k', () => 'old', opts);
    await settle();
    later(5_999);
    const gate = deferred<string>();
    expect(await a.cache.getOrSet('k', () => gate.promise, opts)).toBe('old');
    gate.resolve('new');
    await settle();
    expect(await a.cache.getOrSet('k', () => 'unused', opts)).toBe('new');
  });

  it('sizes back-filled L1 copies when l1.maxSize is set', async () => {
    const { instances } = await fleet(2, { l1: { max: 10, ttl: 10_000, maxSize: 100_000 } });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'x'.repeat(1_000));
    await settle();
    expect(await b.cache.get('k')).toHaveLength(1_000);
    expect(b.engine.l1!.bytes).toBeGreaterThanOrEqual(1_000);
  });

  it('keeps an L1 copy with grace until its grace ends, one without until its early-refresh window, capped by l1Ttl', async () => {
    const { instances } = await fleet(1);
    const { engine } = instances[0]!;
    const p = engine.options.entry;
    const now = Date.now();
    const base = { value: 1, createdAt: now, tags: undefined };
    expect(engine.read.l1Ttl({ ...base, expiresAt: now + 1_000, staleUntil: now + 5_000, delta: 10 }, now, p)).toBe(5_000);
    expect(engine.read.l1Ttl({ ...base, expiresAt: now + 1_000, staleUntil: now + 60_000, delta: 10 }, now, p)).toBe(p.l1Ttl);
    expect(engine.read.l1Ttl({ ...base, expiresAt: now + 5_000, staleUntil: now + 5_000, delta: 10 }, now, p)).toBe(5_000 - 10 * 10 * 1);
    expect(engine.read.l1Ttl({ ...base, expiresAt: now + 5_000, staleUntil: now + 5_000, delta: 0 }, now, p)).toBe(5_000);
  });

  it('L1 only: an entry stays for its grace period too', async () => {
    const { engine } = await l1Only();
    const now = Date.now();
    const entry = { value: 1, createdAt: now, expiresAt: now + 1_000, staleUntil: now + 1_000, delta: 10, tags: undefined };
    expect(engine.read.l1Ttl(entry, now, engine.options.entry)).toBe(1_000);
  });

  it('a write this instance has not seen confirmed hides what the shared tier still holds', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'old');
    await settle();
    const raw = broker.read('app:{k}');
    b.tier.setDown(true);
    later(5);
    await b.cache.set('k', 'new');
    expect(b.engine.read.accept('app:{k}', raw, false)).toMatchObject({ value: 'new' });
    later(5);
    await b.cache.del('k');
    expect(b.engine.read.accept('app:{k}', raw, false)).toBeUndefined();
    expect(a.engine.read.accept('app:{k}', raw, false)).toMatchObject({ value: 'old' });
  });

  it('after a gap, a tagged shared entry whose tag is intact is served once its marker is read', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'v', { tags: ['t'] });
    await settle();
    b.tier.dropMessages(true);
    b.tier.dropMessages(false);
    const labels: string[] = [];
    broker.schedule = (p, label) => {
      labels.push(label);
      return p;
    };
    const lb = counting(() => 'b');
    expect(await b.cache.getOrSet('k', lb.loader, { tags: ['t'] })).toBe('v');
    expect(lb.runs()).toBe(0);
    expect(labels.some((l) => l.startsWith('getMarkers'))).toBe(true);
  });

  it('an early refresh that failed when its entry expired: the waiting caller loads', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.getOrSet('k', () => new Promise((resolve) => setTimeout(() => resolve('v1'), 5)), { ttl: 60_000 });
    await settle();
    vi.spyOn(Math, 'random').mockReturnValue(1e-300);
    const gate = deferred<string>();
    expect(await b.cache.getOrSet('k', () => gate.promise, { earlyRefresh: 1e9 })).toBe('v1');
    await settle();
    later(61_000);
    const waiting = b.cache.getOrSet('k', async () => 'v3');
    await settle();
    gate.reject(new Error('db down'));
    expect(await waiting).toBe('v3');
    expect(b.engine.stats.refreshErrors).toBe(1);
  });

  it('a fresh shared-tier value read before an eviction here is served but not back-filled', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'old');
    await settle();
    const gate = deferred<void>();
    broker.schedule = (p, label) => (label === 'get app:{k}:reply' ? gate.promise.then(() => p) : p);
    const read = b.cache.getOrSet('k', async () => 'loaded');
    await settle();
    broker.schedule = undefined;
    await a.cache.del('k');
    await settle();
    gate.resolve();
    expect(await read).toBe('old');
    expect(b.engine.l1?.get('k')).toBeUndefined();
  });

  it('a stale L1 copy whose tag was invalidated is not served: the caller waits for the loader', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const opts = { ttl: 1_000, grace: 60_000, tags: ['t'] };
    await a.cache.getOrSet('k', () => 'old', opts);
    await settle();
    later(5);
    await a.cache.invalidateTags('t');
    later(2_000);
    expect(await a.cache.getOrSet('k', async () => 'new', opts)).toBe('new');
    expect(a.engine.stats.staleServed).toBe(0);
  });

  it('a tagged shared entry whose tag this instance heard invalidated is a miss without a marker read', async () => {
    const { broker, instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    await a.cache.set('k', 'old', { tags: ['t'] });
    await settle();
    later(5);
    await a.cache.invalidateTags('t');
    await settle();
    const labels: string[] = [];
    broker.schedule = (p, label) => {
      labels.push(label);
      return p;
    };
    expect(await b.cache.get('k')).toBeUndefined();
    expect(b.engine.stats.l2Misses).toBe(1);
    expect(labels.some((l) => l.startsWith('getMarkers'))).toBe(false);
  });

  it('over a tier without a bus (no lease) a load is claimed by the write version and stored for the others', async () => {
    const { instances } = await fleet(2, {}, { noBus: true });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    expect(a.engine.lease).toBeUndefined();
    expect(await a.cache.getOrSet('k', async () => 'loaded')).toBe('loaded');
    await settle();
    expect(await b.cache.getOrSet('k', async () => 'unused')).toBe('loaded');
    expect(b.engine.stats.l2Hits).toBe(1);
  });

  it('a lease request the tier does not answer in time: the loader runs and its value is served', async () => {
    vi.useRealTimers();
    const { broker, instances } = await fleet(1, {}, { timeoutMs: 30 });
    const a = instances[0]!;
    const never = new Promise<never>(() => {});
    broker.schedule = (p, label) => (label.startsWith('acquire ') && label.endsWith(':reply') ? never : p);
    expect(await a.cache.getOrSet('k', async () => 'loaded')).toBe('loaded');
    broker.schedule = undefined;
    expect(a.engine.stats.leaseAcquired).toBe(0);
  });

  it('a read-and-lease the tier does not answer in time: the loader runs, and the lease it took is given back', async () => {
    vi.useRealTimers();
    const { broker, instances } = await fleet(1, {}, { timeoutMs: 30 });
    const a = instances[0]!;
    for (let i = 0; i < 24; i++) await a.cache.getOrSet(`cold:${i}`, () => i);
    const leases = a.engine.stats.leaseAcquired;
    const never = new Promise<never>(() => {});
    // The command runs on the store (the lease is taken there); only its reply never comes.
    broker.schedule = (p, label) => (label.startsWith('readOrLease ') && label.endsWith(':reply') ? never : p);
    expect(await a.cache.getOrSet('k', async () => 'loaded')).toBe('loaded');
    broker.schedule = undefined;
    expect(a.engine.stats.leaseAcquired).toBe(leases);
    await settle();
    expect(broker.keys()).not.toContain('app:{k}:lease');
  });
});
