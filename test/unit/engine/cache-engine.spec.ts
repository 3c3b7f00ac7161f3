import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryBroker } from '../../../lib/shared/memory-shared-tier.js';
import { CACHE_TRACE_CHANNELS, type CacheTraceMessage } from '../../../lib/telemetry/trace-channels.js';
import { closeAll, deferred, engineOver, settle } from './support/engine-fleet.js';

/**
 * The engine's composition (cache-engine.ts): evictions and invalidations reach this instance at
 * once, the shared tier (retried after a fault) and the other instances; close(); corrupt
 * entries; the trace channels.
 */
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await closeAll();
});

async function fleetOfTwo(options: Parameters<typeof engineOver>[1] = {}) {
  const broker = new MemoryBroker();
  const ta = broker.tier({ timeoutMs: 100 });
  const tb = broker.tier({ timeoutMs: 100 });
  const a = await engineOver(ta, options);
  const b = await engineOver(tb, options);
  return { broker, ta, tb, a, b };
}

describe('CacheEngine: connect()', () => {
  it('waits at most connectTimeout in all for a tier that is down, then serves without it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const broker = new MemoryBroker();
    const tier = broker.tier();
    tier.setDown(true);
    let connected = false;
    const started = engineOver(tier, { connectTimeout: 2_000 }).then((r) => {
      connected = true;
      return r;
    });
    await vi.advanceTimersByTimeAsync(1_990);
    expect(connected).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(connected).toBe(true);
    const { cache } = await started;
    expect(cache.stats().bus.connected).toBe(false);
    expect(await cache.getOrSet('k', () => 'loaded')).toBe('loaded');
  });
});

describe('CacheEngine: del', () => {
  it('evicts here at once, in the shared tier, and on the other instances through the bus', async () => {
    const { broker, a, b } = await fleetOfTwo();
    await a.cache.set('k', 'v1');
    await a.cache.set('other', 'o');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe('v1');
    await a.cache.del('k');
    expect(await a.cache.get('k')).toBeUndefined();
    expect(broker.read('p:{k}')).toBeNull();
    await settle();
    // b's L1 copy is gone: it reads the shared tier again (a miss there), not its own copy.
    expect(await b.cache.get('k')).toBeUndefined();
    expect(await b.cache.get('other')).toBe('o');
    expect(broker.read('p:{other}')).not.toBeNull();
  });

  it('evicts every key of a list and counts each one', async () => {
    const { broker, a } = await fleetOfTwo();
    await a.cache.set('x', 1);
    await a.cache.set('y', 2);
    await a.cache.del(['x', 'y']);
    expect(a.cache.stats().deletes).toBe(2);
    expect(broker.read('p:{x}')).toBeNull();
    expect(broker.read('p:{y}')).toBeNull();
    expect(await a.cache.get('x')).toBeUndefined();
    expect(await a.cache.get('y')).toBeUndefined();
  });

  it('rejects an invalid key before evicting anything', async () => {
    const { a } = await fleetOfTwo();
    await a.cache.set('x', 1);
    await expect(a.engine.del(['x', ''])).rejects.toThrow(/del\(\)/);
    expect(await a.cache.get('x')).toBe(1);
    expect(a.cache.stats().deletes).toBe(0);
  });

  it('keeps a delete the tier did not take, hides the old value, and deletes it when the tier recovers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { broker, ta, a, b } = await fleetOfTwo();
    await a.cache.set('k', 'old');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe('old');
    ta.setDown(true);
    await a.cache.del('k');
    expect(a.cache.stats().l2.pendingWrites).toBe(1);
    expect(broker.read('p:{k}')).not.toBeNull();
    expect(await a.cache.get('k')).toBeUndefined();
    // Back: the engine retries on 'recovered' itself (the 1 s retry timer is fake and never fires).
    ta.setDown(false);
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(a.cache.stats().l2.pendingWrites).toBe(0);
    await settle();
    expect(await b.cache.get('k')).toBeUndefined();
  });

  it('without a shared tier: evicts L1 and has nothing pending', async () => {
    const { cache } = await engineOver(undefined);
    await cache.set('k', 1);
    await cache.del('k');
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.stats().deletes).toBe(1);
    expect(cache.stats().l2.pendingWrites).toBe(0);
  });
});

describe('CacheEngine: deleteNamespace', () => {
  it('evicts the keys under `namespace:` only, here, in the shared tier and on the other instances', async () => {
    const { broker, a, b } = await fleetOfTwo();
    for (const k of ['Svc:1', 'Svc:2', 'Svcx:1', 'Other:1', 'Svc']) await a.cache.set(k, k);
    await settle(); // the writes' own announcements reach b before it reads
    for (const k of ['Svc:1', 'Svcx:1']) expect(await b.cache.get(k)).toBe(k);
    await a.engine.deleteNamespace('Svc');
    expect(await a.engine.get('Svc:1')).toBeUndefined();
    expect(broker.read('p:{Svc:1}')).toBeNull();
    expect(broker.read('p:{Svc:2}')).toBeNull();
    for (const k of ['Svcx:1', 'Other:1', 'Svc']) {
      expect(broker.read(`p:{${k}}`)).not.toBeNull();
      expect(await a.cache.get(k)).toBe(k);
    }
    await settle();
    expect(await b.cache.get('Svc:1')).toBeUndefined();
    expect(await b.cache.get('Svcx:1')).toBe('Svcx:1');
  });

  it('announces a namespace delete the tier did not take once it lands', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { broker, ta, a, b } = await fleetOfTwo();
    await a.cache.set('Svc:1', 'old');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('Svc:1')).toBe('old');
    ta.setDown(true);
    await a.engine.deleteNamespace('Svc');
    expect(a.cache.stats().l2.pendingWrites).toBe(1);
    ta.setDown(false);
    await settle();
    expect(broker.read('p:{Svc:1}')).toBeNull();
    await settle();
    expect(await b.cache.get('Svc:1')).toBeUndefined();
  });
});

describe('CacheEngine: clear', () => {
  it("drops every entry under this cache's prefix, here and on the other instances, and no other app's", async () => {
    const { broker, a, b } = await fleetOfTwo();
    broker.write('q:{k}', 'another app', 60_000);
    await a.cache.set('k', 1);
    await a.cache.set('j', 2);
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe(1);
    await a.cache.clear();
    expect(await a.cache.get('k')).toBeUndefined();
    expect(await a.cache.get('j')).toBeUndefined();
    expect(broker.read('p:{k}')).toBeNull();
    expect(broker.read('q:{k}')).toBe('another app');
    await settle();
    expect(await b.cache.get('k')).toBeUndefined();
  });

  it('announces a clear the tier did not take once it lands, and only then', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { broker, ta, a, b } = await fleetOfTwo();
    await a.cache.set('k', 'old');
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('k')).toBe('old');
    ta.setDown(true);
    await a.cache.clear();
    await settle();
    expect(await b.cache.get('k')).toBe('old');
    ta.setDown(false);
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    await settle();
    expect(await b.cache.get('k')).toBeUndefined();
  });

  // Issue 13: clear() deleted the keys' write times with the keys, so a set made before it and
  // retried after it (its instance was disconnected, bus included, and never heard of the clear)
  // landed and was served fleet-wide.
  it('drops a set made before the clear and retried after it by an instance that missed the clear', async () => {
    const { broker, ta, a, b } = await fleetOfTwo();
    ta.setDown(true); // a's connection drops, its bus with it
    await a.cache.set('k', 'made before the clear');
    expect(a.cache.stats().l2.pendingWrites).toBe(1);
    await b.cache.clear();
    ta.setDown(false); // a is back and retries its set
    await settle();
    expect(a.cache.stats().l2.pendingWrites).toBe(0);
    expect(broker.read('p:{k}')).toBeNull();
    expect(await b.cache.get('k')).toBeUndefined();
    expect(await a.cache.get('k')).toBeUndefined();
  });

  it('still lands a set made after the clear, on any instance', async () => {
    const { broker, a, b } = await fleetOfTwo();
    await a.cache.set('k', 'before');
    await b.cache.clear();
    await a.cache.set('k', 'after');
    expect(broker.read('p:{k}')).not.toBeNull();
    await settle();
    expect(await b.cache.get('k')).toBe('after');
  });

  // Issue 13, second form: clear() left no trace a load without a lease could see, so a load
  // that read the key's (absent) version before the clear stored its result after it.
  it('stores nothing from a lock: false load that started before the clear, its bus message still on the way', async () => {
    const { broker, ta, a, b } = await fleetOfTwo({ lock: false });
    const held: (() => void)[] = [];
    ta.deliver = (_message, deliver) => held.push(deliver);
    const load = deferred<string>();
    const reading = a.cache.getOrSet('k', () => load.promise);
    await settle(); // the version is read and the loader runs
    await b.cache.clear();
    load.resolve('loaded before the clear');
    expect(await reading).toBe('loaded before the clear');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(await b.cache.get('k')).toBeUndefined();
    for (const deliver of held) deliver();
    expect(await a.cache.get('k')).toBeUndefined();
  });

  it('without a shared tier: empties L1', async () => {
    const { cache } = await engineOver(undefined);
    await cache.set('k', 1);
    await cache.clear();
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.stats().l2.pendingWrites).toBe(0);
  });
});

describe('CacheEngine: invalidateTags', () => {
  it('ends tagged entries here and on the other instances, writes the marker, counts each tag', async () => {
    const { broker, a, b } = await fleetOfTwo({ tagTtl: 120_000 });
    await a.cache.set('t1', 1, { tags: ['red'] });
    await a.cache.set('t2', 2, { tags: ['blue'] });
    await a.cache.set('u', 3);
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('t1')).toBe(1);
    await a.cache.invalidateTags(['red', 'green']);
    expect(a.cache.stats().tags.invalidations).toBe(2);
    expect(await a.cache.get('t1')).toBeUndefined();
    expect(await a.cache.get('t2')).toBe(2);
    expect(await a.cache.get('u')).toBe(3);
    const marker = broker.keys().find((k) => k.includes('red'));
    expect(marker).toBeDefined();
    expect(Number(broker.read(marker!))).toBeGreaterThan(0);
    expect(broker.pttl(marker!)).toBeGreaterThan(60_000);
    expect(broker.pttl(marker!)).toBeLessThanOrEqual(120_000);
    await settle();
    expect(await b.cache.get('t1')).toBeUndefined();
  });

  it('rejects an invalid tag', async () => {
    const { a } = await fleetOfTwo();
    await expect(a.engine.invalidateTags([''])).rejects.toThrow(/invalidateTags\(\)/);
    expect(a.cache.stats().tags.invalidations).toBe(0);
  });

  it('a load of a tagged key in flight does not store its result after the invalidation', async () => {
    const { broker, a } = await fleetOfTwo();
    const gate = deferred<string>();
    const read = a.cache.getOrSet('k', () => gate.promise, { tags: ['red'] });
    await settle();
    await a.cache.invalidateTags('red');
    gate.resolve('before');
    expect(await read).toBe('before');
    await settle();
    expect(broker.read('p:{k}')).toBeNull();
    expect(await a.cache.getOrSet('k', () => 'after', { tags: ['red'] })).toBe('after');
  });

  it('keeps a marker the tier did not take, and writes and announces it once the tier recovers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { broker, ta, a, b } = await fleetOfTwo();
    await a.cache.set('t1', 1, { tags: ['red'] });
    await settle(); // the writes' own announcements reach b before it reads
    expect(await b.cache.get('t1')).toBe(1);
    ta.setDown(true);
    await a.cache.invalidateTags('red');
    expect(a.cache.stats().l2.pendingWrites).toBe(1);
    ta.setDown(false);
    await settle();
    expect(broker.keys().some((k) => k.includes('red'))).toBe(true);
    expect(a.cache.stats().l2.pendingWrites).toBe(0);
    await settle();
    expect(await b.cache.get('t1')).toBeUndefined();
  });

  it('without a shared tier: ends tagged entries in L1', async () => {
    const { cache } = await engineOver(undefined);
    await cache.set('t1', 1, { tags: ['red'] });
    await cache.invalidateTags('red');
    expect(await cache.get('t1')).toBeUndefined();
    expect(cache.stats().l2.pendingWrites).toBe(0);
  });
});

describe('CacheEngine: reads', () => {
  it('get() and peek() reject an invalid key', async () => {
    const { a } = await fleetOfTwo();
    await expect(a.engine.get('')).rejects.toThrow(/get\(\)/);
    await expect(a.engine.peek('')).rejects.toThrow(/peek\(\)/);
    expect(() => a.engine.set('', 1, a.engine.options.entry)).toThrow(/set\(\)/);
  });

  it('peek() gives the value and its times, from the shared tier on another instance', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const { a, b } = await fleetOfTwo({ ttl: 30_000, grace: 10_000 });
    await a.cache.set('k', { n: 1 });
    const info = { value: { n: 1 }, createdAt: 1_000_000, expiresAt: 1_030_000, staleUntil: 1_040_000 };
    expect(await a.cache.peek('k')).toEqual(info);
    expect(await b.cache.peek('k')).toEqual(info);
    expect(await b.cache.peek('absent')).toBeUndefined();
  });

  it('deletes, counts and logs (once) an entry that does not decode; the read is a miss', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { broker, a } = await fleetOfTwo();
    broker.write('p:{bad}', 'not an envelope', 60_000);
    expect(await a.cache.get('bad')).toBeUndefined();
    await settle();
    expect(broker.read('p:{bad}')).toBeNull();
    broker.write('p:{bad}', 'not an envelope', 60_000);
    expect(await a.cache.get('bad')).toBeUndefined();
    broker.write('p:{worse}', 'not an envelope', 60_000);
    expect(await a.cache.get('worse')).toBeUndefined();
    expect(a.cache.stats().l2.corrupt).toBe(3);
    const about = warn.mock.calls.filter(([m]) => String(m).includes('p:{bad}'));
    expect(about).toHaveLength(1);
    expect(warn.mock.calls.filter(([m]) => String(m).includes('p:{worse}'))).toHaveLength(1);
    expect(String(about[0]![0])).toMatch(/does not decode/);
  });

  it('warns once per subject, and forgets the subjects past 1 000 (a bounded memory of warnings)', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const { engine } = await engineOver(undefined);
    const said = (id: string) => warn.mock.calls.filter(([m]) => m === `w ${id}`).length;
    for (let i = 1; i <= 1_000; i++) engine.warnOnce(`id${i}`, `w id${i}`);
    engine.warnOnce('id1', 'w id1');
    expect(said('id1')).toBe(1);
    engine.warnOnce('id1001', 'w id1001');
    engine.warnOnce('id1', 'w id1');
    expect(said('id1')).toBe(1);
    // Past 1 000 subjects the memory starts over: an old subject is warned about again.
    engine.warnOnce('id1002', 'w id1002');
    engine.warnOnce('id1', 'w id1');
    expect(said('id1')).toBe(2);
    expect(warn).toHaveBeenCalledTimes(1_003);
  });

  it('a load without the fleet (a tier without pub/sub) stores through the write version', async () => {
    const broker = new MemoryBroker();
    const tier = Object.assign(broker.tier(), { hasBus: false });
    const { engine, cache } = await engineOver(tier);
    expect(engine.bus).toBeUndefined();
    expect(engine.lease).toBeUndefined();
    expect(await cache.getOrSet('k', () => 'v')).toBe('v');
    await settle();
    expect(broker.read('p:{k}')).not.toBeNull();
    expect(broker.keys().some((k) => k.endsWith(':lease'))).toBe(false);
    expect(cache.stats().lease.enabled).toBe(false);
    expect(cache.stats().bus.enabled).toBe(false);
  });
});

describe('CacheEngine: a shared tier without pub/sub (Keyv stores)', () => {
  it('evictions, clears, namespaces and tags reach the tier, with no bus to announce them', async () => {
    const broker = new MemoryBroker();
    const tier = Object.assign(broker.tier(), { hasBus: false });
    const { cache, engine } = await engineOver(tier);
    await cache.set('Svc:1', 1);
    await cache.set('k', 2);
    await engine.deleteNamespace('Svc');
    expect(broker.read('p:{Svc:1}')).toBeNull();
    await cache.del('k');
    expect(broker.read('p:{k}')).toBeNull();
    await cache.set('j', 3, { tags: ['red'] });
    await cache.invalidateTags('red');
    expect(await cache.get('j')).toBeUndefined();
    await cache.set('i', 4);
    await cache.clear();
    expect(broker.read('p:{i}')).toBeNull();
    await cache.set('n', null, { nullTtl: 0 });
    expect(cache.stats().l2.pendingWrites).toBe(0);
  });
});

describe('CacheEngine: leases and close()', () => {
  it('a waiter on another instance runs its own loader when its tier gets into trouble', async () => {
    // Without the wake-up on trouble, the waiter would re-check only after a minute.
    const { ta, tb, a, b } = await fleetOfTwo({ leaseTtl: 60_000, lockWaitTimeout: 60_000 });
    const gate = deferred<string>();
    const holder = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const waiter = b.cache.getOrSet('k', () => 'waiter loaded');
    await settle();
    expect(b.cache.stats().lease.waits).toBe(1);
    tb.setDown(true);
    expect(await waiter).toBe('waiter loaded');
    gate.resolve('holder loaded');
    expect(await holder).toBe('holder loaded');
    expect(ta.connected).toBe(true);
  });

  it("close(): waiters on another instance's lease run their loaders, and the tier is closed", async () => {
    const { ta, tb, a, b } = await fleetOfTwo({ lockWaitTimeout: 60_000 });
    const gate = deferred<string>();
    const holder = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    const waiter = b.cache.getOrSet('k', () => 'waiter loaded');
    await settle();
    expect(b.cache.stats().lease.waits).toBe(1);
    await b.engine.close();
    expect(await waiter).toBe('waiter loaded');
    expect(tb.connected).toBe(false);
    gate.resolve('holder loaded');
    expect(await holder).toBe('holder loaded');
    expect(ta.connected).toBe(true);
  });
});

describe('CacheEngine: trace channels', () => {
  function listen() {
    const events: { channel: string; key: string; outcome: unknown; error: unknown; cache: string }[] = [];
    const on = Object.values(CACHE_TRACE_CHANNELS).map((name) => {
      const fn = (m: unknown) => {
        const msg = m as CacheTraceMessage;
        events.push({ channel: name.split(':').slice(1).join(':'), key: msg.key, outcome: msg.outcome, error: msg.error, cache: msg.cache });
      };
      subscribe(name, fn);
      return () => unsubscribe(name, fn);
    });
    return {
      events,
      off: () => {
        for (const f of on) f();
      },
    };
  }

  it('publishes the read and the load with their outcome, key and cache', async () => {
    const { a } = await fleetOfTwo();
    const t = listen();
    try {
      expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
      expect(await a.cache.getOrSet('k', () => 'unused')).toBe('v');
    } finally {
      t.off();
    }
    const cache = a.engine.instanceId;
    expect(t.events).toEqual([
      { channel: 'read:start', key: 'k', outcome: undefined, error: undefined, cache },
      { channel: 'load:start', key: 'k', outcome: undefined, error: undefined, cache },
      { channel: 'load:end', key: 'k', outcome: undefined, error: undefined, cache },
      { channel: 'read:end', key: 'k', outcome: 'load', error: undefined, cache },
      { channel: 'read:start', key: 'k', outcome: undefined, error: undefined, cache },
      { channel: 'read:end', key: 'k', outcome: 'l1', error: undefined, cache },
    ]);
  });

  it('an L2 hit, a coalesced read and a failed load', async () => {
    const { a, b } = await fleetOfTwo();
    await a.cache.set('shared', 's');
    const t = listen();
    const boom = new Error('boom');
    const gate = deferred<string>();
    try {
      expect(await b.cache.getOrSet('shared', () => 'unused')).toBe('s');
      const first = b.cache.getOrSet('j', () => gate.promise);
      const second = b.cache.getOrSet('j', () => 'unused');
      gate.reject(boom);
      await expect(first).rejects.toBe(boom);
      await expect(second).rejects.toBe(boom);
    } finally {
      t.off();
    }
    const ends = t.events.filter((e) => e.channel.endsWith(':end'));
    expect(ends).toEqual([
      { channel: 'read:end', key: 'shared', outcome: 'l2', error: undefined, cache: b.engine.instanceId },
      { channel: 'load:end', key: 'j', outcome: undefined, error: boom, cache: b.engine.instanceId },
      { channel: 'read:end', key: 'j', outcome: 'load', error: boom, cache: b.engine.instanceId },
      { channel: 'read:end', key: 'j', outcome: 'coalesced', error: boom, cache: b.engine.instanceId },
    ]);
  });

  it('a coalesced read that succeeds says so', async () => {
    const { a } = await fleetOfTwo();
    const t = listen();
    const gate = deferred<string>();
    try {
      const first = a.cache.getOrSet('j', () => gate.promise);
      const second = a.cache.getOrSet('j', () => 'unused');
      gate.resolve('v');
      expect(await Promise.all([first, second])).toEqual(['v', 'v']);
    } finally {
      t.off();
    }
    expect(t.events.filter((e) => e.channel === 'read:end').map((e) => e.outcome)).toEqual(['load', 'coalesced']);
    expect(t.events.filter((e) => e.channel === 'load:start')).toHaveLength(1);
  });

  it('a start subscriber runs the work in a context of its own', async () => {
    const { a } = await fleetOfTwo();
    const ran: string[] = [];
    const wrap = (m: unknown) => {
      const msg = m as CacheTraceMessage;
      msg.run = (fn) => {
        ran.push(msg.key);
        return fn();
      };
    };
    subscribe(CACHE_TRACE_CHANNELS.readStart, wrap);
    subscribe(CACHE_TRACE_CHANNELS.loadStart, wrap);
    try {
      expect(await a.cache.getOrSet('k', () => 'v')).toBe('v');
    } finally {
      unsubscribe(CACHE_TRACE_CHANNELS.readStart, wrap);
      unsubscribe(CACHE_TRACE_CHANNELS.loadStart, wrap);
    }
    expect(ran).toEqual(['k', 'k']);
  });
});
