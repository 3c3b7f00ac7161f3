import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeAll, counting, deferred, fleet, settle } from './support/engine-fleet.js';

/**
 * Dropping this instance's copies (README "Invalidation"): what another instance announces on
 * the bus, what Redis reports through tracking, and gaps in either, after which nothing local is
 * trusted. Engines over the in-memory shared tier; tracking reports are played by the test.
 */
const T0 = Date.UTC(2026, 0, 1);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});

afterEach(async () => {
  await closeAll();
  vi.useRealTimers();
});

const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

async function pair() {
  const { broker, instances } = await fleet(2);
  return { broker, a: instances[0]!, b: instances[1]! };
}

describe('bus messages from another instance', () => {
  it('a set elsewhere drops the L1 copy here: the next read gets the new value', async () => {
    const { a, b } = await pair();
    await a.cache.set('k', 'v1');
    await settle();
    expect(await b.cache.get('k')).toBe('v1');
    await a.cache.set('k', 'v2');
    await settle();
    expect(b.engine.l1?.get('k')).toBeUndefined();
    expect(await b.cache.get('k')).toBe('v2');
    expect(b.engine.stats.busReceived).toBeGreaterThanOrEqual(2);
  });

  it('a del elsewhere drops the copy here and supersedes the load of it in flight here', async () => {
    const { a, b } = await pair();
    await a.cache.set('k', 'v1');
    await a.cache.set('j', 'kept');
    await settle();
    expect(await b.cache.get('k')).toBe('v1');
    expect(await b.cache.get('j')).toBe('kept');
    const gate = deferred<string>();
    const load = b.cache.getOrSet('m', () => gate.promise, { lock: false });
    await settle();
    await a.cache.del(['k', 'm']);
    await settle();
    expect(b.engine.l1?.get('k')).toBeUndefined();
    expect(b.engine.l1?.get('j')?.value).toBe('kept');
    gate.resolve('loaded-before-del');
    expect(await load).toBe('loaded-before-del');
    await settle();
    expect(b.engine.l1?.get('m')).toBeUndefined();
    expect(await b.cache.get('k')).toBeUndefined();
  });

  it('a load stored elsewhere (fill) drops the older copy here without superseding loads here', async () => {
    const { broker, a, b } = await pair();
    await a.cache.set('k', 'v1');
    await settle();
    expect(await b.cache.get('k')).toBe('v1');
    // Another client removed it without an announcement; A loads it again and stores it.
    broker.remove('app:{k}');
    a.engine.l1?.clear();
    const gate = deferred<string>();
    const bLoad = b.cache.getOrSet('other', () => gate.promise);
    await settle();
    expect(await a.cache.getOrSet('k', async () => 'v2')).toBe('v2');
    await settle();
    expect(b.engine.l1?.get('k')).toBeUndefined();
    expect(await b.cache.get('k')).toBe('v2');
    gate.resolve('o');
    expect(await bLoad).toBe('o');
    await settle();
    expect(b.engine.l1?.get('other')?.value).toBe('o');
  });

  it('a namespace evicted elsewhere drops the keys under it here, and only those', async () => {
    const { a, b } = await pair();
    await a.cache.set('Svc:1', 'one');
    await a.cache.set('Svc2:1', 'other-ns');
    await settle();
    expect(await b.cache.get('Svc:1')).toBe('one');
    expect(await b.cache.get('Svc2:1')).toBe('other-ns');
    const gate = deferred<string>();
    const load = b.cache.getOrSet('Svc:2', () => gate.promise, { lock: false });
    await settle();
    await a.engine.deleteNamespace('Svc');
    await settle();
    expect(b.engine.l1?.get('Svc:1')).toBeUndefined();
    expect(b.engine.l1?.get('Svc2:1')?.value).toBe('other-ns');
    gate.resolve('stale');
    await load;
    await settle();
    expect(b.engine.l1?.get('Svc:2')).toBeUndefined();
  });

  it('a clear elsewhere drops every copy here and supersedes every load here', async () => {
    const { a, b } = await pair();
    await a.cache.set('k', 'v');
    await a.cache.set('j', 'w');
    await settle();
    await b.cache.get('k');
    await b.cache.get('j');
    const gate = deferred<string>();
    const load = b.cache.getOrSet('m', () => gate.promise, { lock: false });
    await settle();
    await a.cache.clear();
    await settle();
    expect(b.engine.l1?.size).toBe(0);
    gate.resolve('stale');
    await load;
    await settle();
    expect(b.engine.l1?.get('m')).toBeUndefined();
  });

  it('a tag invalidated elsewhere hides tagged copies here and supersedes tagged loads here', async () => {
    const { a, b } = await pair();
    await a.cache.set('k', 'tagged', { tags: ['t'] });
    await a.cache.set('j', 'untagged');
    await settle();
    expect(await b.cache.get('k')).toBe('tagged');
    expect(await b.cache.get('j')).toBe('untagged');
    const gate = deferred<string>();
    const load = b.cache.getOrSet('m', () => gate.promise, { tags: ['t'], lock: false });
    await settle();
    later(5);
    await a.cache.invalidateTags('t');
    await settle();
    later(5);
    expect(b.engine.read.freshInL1('k')).toBeUndefined();
    expect(b.engine.read.freshInL1('j')?.value).toBe('untagged');
    // A later caller does not join the superseded load.
    const l = counting(() => 'fresh');
    expect(await b.cache.getOrSet('m', l.loader, { tags: ['t'] })).toBe('fresh');
    gate.resolve('stale');
    expect(await load).toBe('stale');
    expect(l.runs()).toBe(1);
  });

  it('an announcement wakes this instance’s lease waiters at once', async () => {
    vi.useRealTimers();
    const { instances } = await fleet(2, { leaseTtl: 20_000, lockWaitTimeout: 20_000 });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const gate = deferred<string>();
    const pa = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    // B waits on A's lease; A's load fails and A releases the lease and says so.
    const pb = b.cache.getOrSet('k', async () => 'from-b', { hardTimeout: 5_000 });
    await settle();
    expect(b.engine.stats.leaseWaits).toBe(1);
    gate.reject(new Error('db down'));
    await expect(pa).rejects.toThrow('db down');
    // Without the wake-up B would sleep until the lease's 20 s were up (hardTimeout first).
    expect(await pb).toBe('from-b');
  });

  it('a tag invalidation counts from when it was made, not from when it arrived here', async () => {
    const held: (() => void)[] = [];
    const { instances } = await fleet(2, {}, { deliver: (_m, deliver) => held.push(deliver) });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    later(5);
    await a.cache.invalidateTags('t');
    later(10);
    await b.cache.set('k', 'after', { tags: ['t'] });
    later(10);
    for (const deliver of held.splice(0)) deliver();
    expect(b.engine.read.freshInL1('k')?.value).toBe('after');
  });

  it('without L1, invalidations from the bus still supersede loads here', async () => {
    const { a, b } = await (async () => {
      const { instances } = await fleet(2, { l1: false });
      return { a: instances[0]!, b: instances[1]! };
    })();
    const gate = deferred<string>();
    const load = b.cache.getOrSet('Svc:1', () => gate.promise, { lock: false });
    await settle();
    await a.engine.deleteNamespace('Svc');
    await a.cache.getOrSet('other', async () => 'o');
    await a.cache.clear();
    await settle();
    gate.resolve('stale');
    expect(await load).toBe('stale');
    await settle();
    expect(await b.cache.get('Svc:1')).toBeUndefined();
  });

  it('a gap in the bus drops every L1 copy here, counted; loads in flight still store', async () => {
    const { a, b } = await pair();
    await a.cache.set('k', 'v');
    await settle();
    expect(await b.cache.get('k')).toBe('v');
    const gate = deferred<string>();
    const load = b.cache.getOrSet('m', () => gate.promise);
    await settle();
    b.tier.dropMessages(true);
    b.tier.dropMessages(false);
    expect(b.engine.stats.busGaps).toBe(1);
    expect(b.engine.l1?.get('k')).toBeUndefined();
    gate.resolve('loaded');
    expect(await load).toBe('loaded');
    await settle();
    expect(b.engine.l1?.get('m')?.value).toBe('loaded');
  });

  it('a gap forgets tag timestamps: they are read again from the shared tier', async () => {
    const { a, b } = await pair();
    await a.cache.set('k', 'old', { tags: ['t'] });
    await settle();
    later(5);
    await a.cache.invalidateTags('t');
    await settle();
    b.tier.dropMessages(true);
    b.tier.dropMessages(false);
    later(5);
    expect(await b.cache.get('k')).toBeUndefined();
  });

  // Fuzz seed 985973894 (issue 13): two invalidateTags during a dropped connection; after the
  // reconnect's gap, a read made while the first marker's retry was out got the entry the second
  // one invalidated (its marker not written yet, its time forgotten with the gap).
  it("a gap keeps this instance's own tag invalidations the shared tier has not confirmed yet", async () => {
    const { broker, a } = await pair();
    await a.cache.set('k', 'old', { tags: ['t'] });
    later(5);
    a.tier.setDown(true);
    await a.cache.invalidateTags('u');
    await a.cache.invalidateTags('t');
    // The retry of the first marker waits for its reply: the second one is not sent meanwhile.
    const reply = deferred<void>();
    broker.schedule = (p, label) => (label.startsWith('setMarker') && label.includes('{u}') && label.endsWith(':reply') ? reply.promise.then(() => p) : p);
    a.tier.setDown(false);
    expect(a.engine.stats.busGaps).toBe(1);
    later(5);
    expect(await a.cache.get('k')).toBeUndefined();
    expect(await a.cache.getOrSet('k', async () => 'new', { tags: ['t'] })).toBe('new');
    reply.resolve();
  });
});

describe('tracking reports from Redis', () => {
  async function tracked() {
    const { broker, instances } = await fleet(1, {}, { tracking: true });
    const a = instances[0]!;
    expect(a.tracking).toBeDefined();
    return { broker, a, report: a.tracking! };
  }

  it('a key changed by another client drops its L1 copy and supersedes its load here', async () => {
    const { a, report } = await tracked();
    await a.cache.set('k', 'v');
    await a.cache.set('j', 'w');
    const gate = deferred<string>();
    const load = a.cache.getOrSet('m', () => gate.promise, { lock: false });
    await settle();
    report.keys(['app:{k}', 'app:{m}']);
    expect(a.engine.l1?.get('k')).toBeUndefined();
    expect(a.engine.l1?.get('j')?.value).toBe('w');
    expect(a.engine.stats).toMatchObject({ trackingMessages: 1, trackingKeys: 2 });
    gate.resolve('stale');
    await load;
    await settle();
    expect(a.engine.l1?.get('m')).toBeUndefined();
  });

  it('ignores keys that are not entries (leases, other prefixes)', async () => {
    const { a, report } = await tracked();
    await a.cache.set('k', 'v');
    report.keys(['app:{k}:lease', 'other:{k}']);
    expect(a.engine.stats).toMatchObject({ trackingMessages: 1, trackingKeys: 0 });
    expect(a.engine.l1?.get('k')?.value).toBe('v');
  });

  it('a long (hashed) key is dropped whether or not its name is still remembered', async () => {
    const { a, report } = await tracked();
    const long1 = `a:${'x'.repeat(400)}`;
    const long2 = `b:${'y'.repeat(400)}`;
    await a.cache.set(long1, 'one');
    await a.cache.set(long2, 'two');
    await a.cache.set('short', 's');
    const sk1 = a.engine.storageKey(long1);
    const sk2 = a.engine.storageKey(long2);
    report.keys([sk1]);
    expect(a.engine.l1?.get(long1)).toBeUndefined();
    expect(a.engine.l1?.get(long2)?.value).toBe('two');
    a.engine.trackedKeys?.clear();
    report.keys([sk2]);
    expect(a.engine.l1?.get(long2)).toBeUndefined();
    expect(a.engine.l1?.get('short')?.value).toBe('s');
    expect(a.engine.stats.trackingKeys).toBe(2);
  });

  it('a changed tag marker hides older tagged copies and keeps reads out now from back-filling', async () => {
    const { a, report } = await tracked();
    await a.cache.set('k', 'tagged', { tags: ['t'] });
    await a.cache.set('j', 'untagged');
    const epoch = a.engine.keys.epoch;
    later(5);
    report.keys(['app:__tag:{t}']);
    later(5);
    expect(a.engine.keys.epoch).toBe(epoch + 1);
    expect(a.engine.read.freshInL1('k')).toBeUndefined();
    expect(a.engine.read.freshInL1('j')?.value).toBe('untagged');
    expect(a.engine.stats.trackingKeys).toBe(1);
  });

  it('a flush drops every L1 copy and supersedes every load', async () => {
    const { a, report } = await tracked();
    await a.cache.set('k', 'v');
    const gate = deferred<string>();
    const load = a.cache.getOrSet('m', () => gate.promise, { lock: false });
    await settle();
    report.flush();
    expect(a.engine.l1?.size).toBe(0);
    expect(a.engine.stats).toMatchObject({ trackingMessages: 1, trackingFlushes: 1 });
    gate.resolve('stale');
    await load;
    await settle();
    expect(a.engine.l1?.get('m')).toBeUndefined();
  });

  it('a flush forgets tag timestamps: a tagged entry read next checks its marker again', async () => {
    const { broker, a, report } = await tracked();
    await a.cache.invalidateTags('t');
    later(5);
    report.flush();
    await a.cache.set('k', 'v', { tags: ['t'] });
    a.engine.l1?.clear();
    const labels: string[] = [];
    broker.schedule = (p, label) => {
      labels.push(label);
      return p;
    };
    expect(await a.cache.get('k')).toBe('v');
    expect(labels.some((l) => l.startsWith('getMarkers'))).toBe(true);
  });

  it('a flush wakes this instance’s lease waiters: the lease went with everything else', async () => {
    vi.useRealTimers();
    const { broker, instances } = await fleet(2, { leaseTtl: 20_000, lockWaitTimeout: 20_000 }, { tracking: true });
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const gate = deferred<string>();
    const pa = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const pb = b.cache.getOrSet('k', async () => 'from-b', { hardTimeout: 5_000 });
    await settle();
    expect(b.engine.stats.leaseWaits).toBe(1);
    broker.flush();
    b.tracking!.flush();
    // Without the wake-up B would sleep until the lease's 20 s were up (hardTimeout first).
    expect(await pb).toBe('from-b');
    gate.resolve('from-a');
    await pa;
  });

  it('tracking back after a gap drops every L1 copy, counted; loads in flight still store', async () => {
    const { a, report } = await tracked();
    await a.cache.set('k', 'v');
    const gate = deferred<string>();
    const load = a.cache.getOrSet('m', () => gate.promise);
    await settle();
    report.resumed();
    expect(a.engine.stats.trackingGaps).toBe(1);
    expect(a.engine.l1?.get('k')).toBeUndefined();
    gate.resolve('loaded');
    await load;
    await settle();
    expect(a.engine.l1?.get('m')?.value).toBe('loaded');
  });
});
