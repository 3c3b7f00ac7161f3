import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { approximateSize } from '../../../lib/l1/approximate-size.js';
import type { EntryPolicy } from '../../../lib/options/entry-policy.js';
import { MemoryBroker } from '../../../lib/shared/memory-shared-tier.js';
import { closeAll, deferred, engineOver, settle } from './support/engine-fleet.js';

/**
 * The write path (write-path.ts): a load's result goes to L1 at once and to the shared tier
 * through its claim (the fleet lease, or the key's write version with `lock: false`); what the
 * claim says is stale is kept nowhere; `set()` replaces the entry everywhere.
 */
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await closeAll();
});

const T0 = 1_800_000_000_000;

async function fleetOfTwo(options: Parameters<typeof engineOver>[1] = {}) {
  const broker = new MemoryBroker();
  const ta = broker.tier({ timeoutMs: 100 });
  const tb = broker.tier({ timeoutMs: 100 });
  const a = await engineOver(ta, options);
  const b = await engineOver(tb, options);
  return { broker, ta, tb, a, b };
}

const leases = (broker: MemoryBroker) => broker.keys().filter((k) => k.endsWith(':lease'));

describe('WritePath: a load and its store', () => {
  it('stores through the fleet lease (lock: true): value in the shared tier for ttl + grace, lease freed', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
    const { broker, a, b } = await fleetOfTwo({ ttl: 30_000, grace: 5_000 });
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    await settle();
    expect(a.cache.stats().lease.acquired).toBe(1);
    expect(broker.pttl('p:{k}')).toBe(35_000);
    expect(leases(broker)).toEqual([]);
    expect(await b.cache.peek('k')).toEqual({ value: 'v', createdAt: T0, expiresAt: T0 + 30_000, staleUntil: T0 + 35_000 });
  });

  it('stores through the write version with lock: false (no lease taken)', async () => {
    const { broker, a, b } = await fleetOfTwo({ lock: false });
    expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    await settle();
    expect(a.cache.stats().lease.acquired).toBe(0);
    expect(broker.read('p:{k}')).not.toBeNull();
    expect(await b.cache.get('k')).toBe('v');
  });

  it('dates an entry from the start of its load; it stays fresh for ttl after the load ends', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'], now: T0 });
    const { a } = await fleetOfTwo({ ttl: 30_000 });
    const value = await a.cache.getOrSet('k', () => {
      vi.advanceTimersByTime(40);
      return 'v';
    });
    expect(value).toBe('v');
    expect(await a.cache.peek('k')).toEqual({ value: 'v', createdAt: T0, expiresAt: T0 + 40 + 30_000, staleUntil: T0 + 40 + 30_000 });
    expect(a.cache.stats().loads).toMatchObject({ calls: 1, errors: 0, durationMsSum: 40, durationCount: 1 });
  });

  it('with lock: false, a load whose key was deleted meanwhile elsewhere keeps its result nowhere', async () => {
    const { broker, ta, a, b } = await fleetOfTwo({ lock: false });
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    // a does not hear the delete on the bus: only the write version tells its store it is stale.
    ta.dropMessages(true);
    await b.cache.del('k');
    gate.resolve('stale');
    expect(await read).toBe('stale');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(a.cache.stats().lease.lost).toBe(1);
    expect(await a.cache.get('k')).toBeUndefined();
  });

  it('with the lease, a load whose key was deleted meanwhile elsewhere keeps its result nowhere', async () => {
    const { broker, ta, a, b } = await fleetOfTwo();
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    ta.dropMessages(true);
    await b.cache.del('k');
    gate.resolve('stale');
    expect(await read).toBe('stale');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(a.cache.stats().lease.lost).toBe(1);
    expect(await a.cache.get('k')).toBeUndefined();
  });

  it('a load whose tier did not answer its read keeps its result in L1 only', async () => {
    const { broker, ta, a } = await fleetOfTwo({ lock: false });
    ta.setDown(true);
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    ta.setDown(false);
    gate.resolve('v');
    expect(await read).toBe('v');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(await a.cache.get('k')).toBe('v');
    expect(a.cache.stats().lease.lost).toBe(0);
  });

  it('a load superseded by a delete here stores nothing', async () => {
    const { broker, a, b } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    await a.cache.del('k');
    gate.resolve('stale');
    expect(await read).toBe('stale');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(await a.cache.get('k')).toBeUndefined();
    expect(await b.cache.getOrSet('k', () => 'fresh')).toBe('fresh');
  });

  it('a load superseded by a tag invalidation stores nothing and frees its lease at once', async () => {
    const { broker, a, b } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise, { tags: ['red'] });
    await settle();
    expect(leases(broker)).toHaveLength(1);
    await a.cache.invalidateTags('red');
    gate.resolve('stale');
    expect(await read).toBe('stale');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(leases(broker)).toEqual([]);
    expect(await b.cache.getOrSet('k', () => 'fresh', { tags: ['red'] })).toBe('fresh');
  });

  it('frees the lease when the result is not stored (unless), so the others load at once', async () => {
    const { broker, a, b } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    const p: EntryPolicy = { ...a.engine.options.entry, unless: (v: string) => v === 'skip' };
    expect(await a.engine.getOrSet('k', () => 'skip', p)).toBe('skip');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(leases(broker)).toEqual([]);
    expect(await a.cache.get('k')).toBeUndefined();
    expect(await b.cache.getOrSet('k', () => 'other')).toBe('other');
  });

  it('a load that fails is not cached, is counted, and frees its lease', async () => {
    const { broker, a, b } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    await expect(a.cache.getOrSet('k', () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    await settle();
    expect(leases(broker)).toEqual([]);
    expect(a.cache.stats().loads).toMatchObject({ calls: 1, errors: 1, durationCount: 1 });
    expect(await b.cache.getOrSet('k', () => 'ok')).toBe('ok');
    expect(await a.cache.getOrSet('k', () => 'ok here')).toBe('ok');
  });

  it('a result policy decides the stored lifetime; one that throws fails the call and frees the lease', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
    const { broker, a, b } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    const base = a.engine.options.entry;
    const p: EntryPolicy = { ...base, resultPolicy: (v: string) => ({ ...base, ttl: v.length * 1_000 }) };
    expect(await a.engine.getOrSet('k', () => 'abc', p)).toBe('abc');
    await settle();
    expect(broker.pttl('p:{k}')).toBe(3_000);
    const bad: EntryPolicy = {
      ...base,
      resultPolicy: () => {
        throw new Error('bad policy');
      },
    };
    await expect(a.engine.getOrSet('j', () => 'x', bad)).rejects.toThrow('bad policy');
    await settle();
    expect(leases(broker)).toEqual([]);
    expect(broker.read('p:{j}')).toBeNull();
    expect(await b.cache.getOrSet('j', () => 'y')).toBe('y');
  });
});

describe('WritePath: the lease a load holds', () => {
  // Waiters would re-check only after a minute: what ends their wait here is the holder's message.
  const patient = { leaseTtl: 60_000, lockWaitTimeout: 60_000 };

  it("a waiter on another instance is woken by the holder's store and serves its value", async () => {
    const { a, b } = await fleetOfTwo(patient);
    const gate = deferred<string>();
    const holder = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const loaderB = vi.fn(() => 'b loaded');
    const waiter = b.cache.getOrSet('k', loaderB);
    await settle();
    expect(b.cache.stats().lease.waits).toBe(1);
    gate.resolve('a loaded');
    expect(await holder).toBe('a loaded');
    expect(await waiter).toBe('a loaded');
    expect(loaderB).not.toHaveBeenCalled();
  });

  it("a waiter on another instance is woken when the holder's load fails, and runs its own loader", async () => {
    const { a, b } = await fleetOfTwo(patient);
    const gate = deferred<string>();
    const holder = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const waiter = b.cache.getOrSet('k', () => 'b loaded');
    await settle();
    gate.reject(new Error('db down'));
    await expect(holder).rejects.toThrow('db down');
    expect(await waiter).toBe('b loaded');
  });

  it('a load longer than leaseTtl keeps its lease: the others keep waiting for its result', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: T0 });
    const { a, b } = await fleetOfTwo({ leaseTtl: 1_000, lockWaitTimeout: 60_000 });
    const gate = deferred<string>();
    const holder = a.cache.getOrSet('k', () => gate.promise);
    await vi.advanceTimersByTimeAsync(1);
    const loaderB = vi.fn(() => 'b loaded');
    const waiter = b.cache.getOrSet('k', loaderB);
    for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(250);
    expect(loaderB).not.toHaveBeenCalled();
    gate.resolve('a loaded');
    await vi.advanceTimersByTimeAsync(10);
    expect(await holder).toBe('a loaded');
    expect(await waiter).toBe('a loaded');
    expect(loaderB).not.toHaveBeenCalled();
  });
});

describe('WritePath: null and values that cannot be stored', () => {
  it('caches null for nullTtl', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
    const { broker, a, b } = await fleetOfTwo({ ttl: 60_000, nullTtl: 2_000 });
    expect(await a.cache.getOrSet('k', () => null)).toBeNull();
    await settle();
    expect(broker.pttl('p:{k}')).toBe(2_000);
    expect(await b.cache.get('k')).toBeNull();
    expect(await a.cache.getOrSet('k', () => 'unused')).toBeNull();
  });

  it('does not cache null with nullTtl: 0, and frees the lease', async () => {
    const { broker, a } = await fleetOfTwo({ nullTtl: 0, lockWaitTimeout: 60_000 });
    expect(await a.cache.getOrSet('k', () => null)).toBeNull();
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(leases(broker)).toEqual([]);
    expect(await a.cache.getOrSet('k', () => 'now')).toBe('now');
  });

  it('set(null) with nullTtl: 0 evicts the key here, in the shared tier and on the others', async () => {
    const { broker, a, b } = await fleetOfTwo({ nullTtl: 0 });
    await a.cache.set('k', 'old');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe('old');
    await a.cache.set('k', null);
    expect(await a.cache.get('k')).toBeUndefined();
    expect(broker.read('p:{k}')).toBeNull();
    await settle();
    expect(await b.cache.get('k')).toBeUndefined();
    expect(a.cache.stats().sets).toBe(2);
  });

  it('without L1, set(null) with nullTtl: 0 evicts the key in the shared tier', async () => {
    const { broker, a } = await fleetOfTwo({ nullTtl: 0, l1: false });
    await a.cache.set('k', 'old');
    await a.cache.set('k', null);
    expect(broker.read('p:{k}')).toBeNull();
    expect(await a.cache.get('k')).toBeUndefined();
  });

  it('an unserializable result is returned, counted, logged once, and not cached', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { broker, a } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    expect(await a.cache.getOrSet('k', () => 10n)).toBe(10n);
    expect(await a.cache.getOrSet('k', () => 11n)).toBe(11n);
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(leases(broker)).toEqual([]);
    expect(a.cache.stats().serializationErrors).toBe(2);
    const about = warn.mock.calls.filter(([m]) => String(m).includes('"k"'));
    expect(about).toHaveLength(1);
    expect(String(about[0]![0])).toMatch(/cannot be serialized/);
  });

  it('set() of an unserializable value evicts the old one', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { broker, a } = await fleetOfTwo();
    await a.cache.set('k', 'old');
    await a.cache.set('k', { n: 1n });
    expect(await a.cache.get('k')).toBeUndefined();
    expect(broker.read('p:{k}')).toBeNull();
  });

  it('without a shared tier nothing is serialized: any value is kept in L1', async () => {
    const { cache } = await engineOver(undefined);
    await cache.set('k', 5n);
    expect(await cache.get('k')).toBe(5n);
    expect(await cache.getOrSet('j', () => 6n)).toBe(6n);
    expect(await cache.getOrSet('j', () => 7n)).toBe(6n);
    expect(cache.stats().serializationErrors).toBe(0);
  });
});

describe('WritePath: set()', () => {
  it('replaces the entry here, in the shared tier (ttl + grace) and on the other instances', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: T0 });
    const { broker, a, b } = await fleetOfTwo({ ttl: 20_000, grace: 1_000 });
    await a.cache.set('k', 'v1');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe('v1');
    await a.cache.set('k', 'v2', { ttl: 10_000 });
    expect(broker.pttl('p:{k}')).toBe(11_000);
    expect(await a.cache.peek('k')).toEqual({ value: 'v2', createdAt: T0, expiresAt: T0 + 10_000, staleUntil: T0 + 11_000 });
    await settle();
    expect(await b.cache.get('k')).toBe('v2');
    expect(a.cache.stats().sets).toBe(2);
  });

  it('a load in flight when set() runs does not overwrite it', async () => {
    const { broker, a, b } = await fleetOfTwo();
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    await a.cache.set('k', 'written');
    gate.resolve('loaded before');
    expect(await read).toBe('loaded before');
    await settle();
    expect(await a.cache.get('k')).toBe('written');
    expect(await b.cache.get('k')).toBe('written');
    expect(broker.read('p:{k}')).not.toBeNull();
  });

  it('a write the tier did not take is served here, retried on recovery, then announced', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { ta, a, b } = await fleetOfTwo();
    await a.cache.set('k', 'old');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe('old');
    ta.setDown(true);
    await a.cache.set('k', 'new');
    expect(a.cache.stats().l2.pendingWrites).toBe(1);
    expect(await a.cache.get('k')).toBe('new');
    expect(await b.cache.get('k')).toBe('old');
    ta.setDown(false);
    await settle();
    expect(a.cache.stats().l2.pendingWrites).toBe(0);
    await settle();
    expect(await b.cache.get('k')).toBe('new');
  });

  it('L1 bounded by bytes counts an entry at its serialized size', async () => {
    const { broker, a } = await fleetOfTwo({ l1: { max: 100, ttl: 60_000, maxSize: 1_000_000 } });
    await a.cache.set('k', 'x'.repeat(1_000));
    expect(a.cache.stats().l1.bytes).toBe(broker.read('p:{k}')!.length);
    expect(a.cache.stats().l1.bytes).toBeGreaterThan(1_000);
  });

  it('without a shared tier, L1 bounded by bytes counts the approximate size of a value', async () => {
    const { cache } = await engineOver(undefined, { l1: { max: 100, ttl: 60_000, maxSize: 1_000_000 } });
    const value = { name: 'x'.repeat(1_000), n: 1 };
    await cache.set('k', value);
    expect(cache.stats().l1.bytes).toBe(approximateSize(value));
    expect(cache.stats().l1.bytes).toBeGreaterThan(2_000);
  });
});
