import { afterEach, describe, expect, it, vi } from 'vitest';
import { type BusMessage, busChannel } from '../../../lib/bus/bus-message.js';
import { InvalidationBus } from '../../../lib/bus/invalidation-bus.js';
import type { Envelope } from '../../../lib/codec/envelope.js';
import { DurableWrites } from '../../../lib/engine/durable-writes.js';
import { MemoryBroker, type MemorySharedTier } from '../../../lib/shared/memory-shared-tier.js';
import { CLEAR_TTL } from '../../../lib/shared/shared-tier.interface.js';
import { CacheStats } from '../../../lib/stats/cache-stats.js';

/**
 * Writes that must not be lost (issue 12, defect 3): what the shared tier did not take is kept,
 * hides what the tier still holds from before, and lands on the next retry.
 */
const open: DurableWrites[] = [];
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const d of open.splice(0)) d.close();
});

function setup() {
  const broker = new MemoryBroker();
  const tier: MemorySharedTier = broker.tier({ timeoutMs: 50 });
  const writes = new DurableWrites(tier, undefined);
  open.push(writes);
  return { broker, tier, writes };
}

function envelope(value: string, createdAt = Date.now()): Envelope {
  return { value, createdAt, expiresAt: createdAt + 60_000, staleUntil: createdAt + 60_000, delta: 0, tags: undefined };
}

describe('DurableWrites', () => {
  it('confirms a write the shared tier took: nothing stays pending or hidden', async () => {
    const { broker, writes } = setup();
    await writes.put('k', 'p{k}', 'new', envelope('new'));
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBe('new');
    expect(writes.override('p{k}', 0)).toBeUndefined();
  });

  it('keeps a set() the tier did not take, serves it over older entries, and writes it on retry', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    const e = envelope('new');
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'new', e);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{k}', e.createdAt - 1)).toBe(e);
    expect(writes.override('p{k}', e.createdAt + 1)).toBeUndefined();
    expect(writes.override('p{other}', 0)).toBeUndefined();
    await writes.retry();
    expect(writes.pending).toBe(1);
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBe('new');
    expect(writes.override('p{k}', 0)).toBeUndefined();
  });

  // Issue 13: a clear marker lives a day (CLEAR_TTL); a write older than that, retried, could
  // outlive a clear it predates, so it is resent as a delete, which is never stale.
  it('resends a set() as a delete once it is older than a clear marker lives', async () => {
    const { broker, tier, writes } = setup();
    const e = { ...envelope('new'), staleUntil: Date.now() + 3 * CLEAR_TTL };
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'new', e);
    broker.write('p{k}', 'written by another instance', 60_000);
    tier.setDown(false);
    const now = performance.now();
    vi.spyOn(performance, 'now').mockReturnValue(now + CLEAR_TTL);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
    expect(broker.read('p{k}:ver')).not.toBeNull();
  });

  it('resends a set() made less than a day ago as the write it is', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'new', envelope('new'));
    tier.setDown(false);
    const now = performance.now();
    vi.spyOn(performance, 'now').mockReturnValue(now + CLEAR_TTL - 7_200_000);
    await writes.retry();
    expect(broker.read('p{k}')).toBe('new');
  });

  // fuzz seed 94322344: during an outage B set() the key, then A deleted it; when the tier came
  // back, B's retried write landed after A's delete and brought the older value back.
  it('retries a set() with its own time: a later write another instance made meanwhile wins', async () => {
    const { broker, tier, writes } = setup();
    const other = broker.tier();
    const e = envelope('set before the outage ended', Date.now() - 10);
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'set before the outage ended', e);
    expect(writes.pending).toBe(1);
    await other.del(['p{k}']); // now: after the set
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('keeps a delete the tier did not take, hides older entries, and deletes on retry', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(true);
    const before = Date.now();
    await writes.del(['k'], ['p{k}']);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{k}', before)).toBeNull();
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('retries a delete instead of a write that expired meanwhile', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(true);
    const e = { ...envelope('new'), expiresAt: Date.now() + 20, staleUntil: Date.now() + 20 };
    await writes.put('k', 'p{k}', 'new', e);
    expect(writes.pending).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 40));
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('keeps a prefix delete (clear) the tier did not take, and announces it once it lands', async () => {
    const { broker, tier, writes } = setup();
    broker.write('p{a}', 'old', 60_000);
    broker.write('q{a}', 'other', 60_000);
    let announced = 0;
    tier.setDown(true);
    const before = Date.now();
    await writes.delPrefix('p{', () => announced++);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{a}', before)).toBeNull();
    expect(writes.override('q{a}', before)).toBeUndefined();
    expect(announced).toBe(0);
    tier.setDown(false);
    await writes.retry();
    expect(announced).toBe(1);
    expect(writes.pending).toBe(0);
    expect(broker.read('p{a}')).toBeNull();
    expect(broker.read('q{a}')).toBe('other');
  });

  it('keeps a tag marker the tier did not take and writes it on retry', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.tag('t', 'p__tag:{t}', 1_234, 60_000);
    expect(writes.pending).toBe(1);
    tier.setDown(false);
    await writes.retry();
    expect(writes.pending).toBe(0);
    expect(broker.read('p__tag:{t}')).toBe('1234');
  });

  it('a later write of a key replaces the earlier unconfirmed one', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.put('k', 'p{k}', 'one', envelope('one'));
    const two = envelope('two', Date.now() + 1);
    await writes.put('k', 'p{k}', 'two', two);
    expect(writes.pending).toBe(1);
    expect(writes.override('p{k}', 0)).toBe(two);
    tier.setDown(false);
    await writes.retry();
    expect(broker.read('p{k}')).toBe('two');
  });

  it('retries by itself every second until the tier takes it', async () => {
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.del(['k'], ['p{k}']);
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(false);
    await expect.poll(() => writes.pending, { timeout: 3_000, interval: 50 }).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });
});

/** DurableWrites with a bus, and what another instance receives on it. */
async function withBus(timeoutMs = 50) {
  const broker = new MemoryBroker();
  const tier = broker.tier({ timeoutMs });
  const bus = new InvalidationBus(
    tier,
    'p',
    'me',
    new CacheStats(),
    () => undefined,
    () => undefined,
  );
  await bus.start(0);
  const heard: BusMessage[] = [];
  const sub = broker.tier().subscribe(
    busChannel('p'),
    (m) => heard.push(JSON.parse(m) as BusMessage),
    () => undefined,
  );
  await sub.start(0);
  const writes = new DurableWrites(tier, bus);
  open.push(writes);
  return { broker, tier, writes, heard };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('DurableWrites: what it sends and announces', () => {
  it('confirms a delete, a prefix delete and a tag marker the tier took: nothing pending', async () => {
    const { broker, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    await writes.del(['k'], ['p{k}']);
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
    expect(writes.override('p{k}', 0)).toBeUndefined();
    await writes.delPrefix('p{', () => undefined);
    expect(writes.pending).toBe(0);
    await writes.tag('t', 'p__tag:{t}', 1_234, 60_000);
    expect(writes.pending).toBe(0);
    expect(broker.pttl('p__tag:{t}')).toBeGreaterThan(59_000);
  });

  it('writes an entry for what is left of its life, rounded up to the millisecond', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const { broker, writes } = setup();
    await writes.put('k', 'p{k}', 'v', { ...envelope('v'), staleUntil: 1_000_000 + 1_500.5 });
    expect(broker.pttl('p{k}')).toBe(1_501);
  });

  it('does not send an entry whose life is over, and keeps nothing of it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const { broker, writes } = setup();
    await writes.put('k', 'p{k}', 'v', { ...envelope('v'), staleUntil: 1_000_000 });
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('an entry written after a prefix delete is not hidden by it', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const { tier, writes } = setup();
    tier.setDown(true);
    await writes.delPrefix('p{', () => undefined);
    expect(writes.override('p{a}', 1_000_000)).toBeNull();
    expect(writes.override('p{a}', 1_000_001)).toBeUndefined();
  });

  it('announces on retry what landed: deletes, writes (an expired write as a delete), tags; nothing else', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const { tier, writes, heard } = await withBus();
    tier.setDown(true);
    await writes.del(['a', 'b'], ['p{a}', 'p{b}']);
    await writes.put('c', 'p{c}', 'c', envelope('c'));
    await writes.put('d', 'p{d}', 'd', { ...envelope('d'), staleUntil: 1_000_000 + 10 });
    await writes.tag('t', 'p__tag:{t}', 999, 60_000);
    let announced = 0;
    await writes.delPrefix('p{x', () => announced++);
    expect(writes.pending).toBe(6);
    // d's life ends exactly now: it is deleted, not written for 0 ms.
    vi.setSystemTime(1_000_000 + 10);
    tier.setDown(false);
    await writes.retry();
    await settle();
    expect(writes.pending).toBe(0);
    expect(announced).toBe(1);
    expect(heard.map(({ o, k, t }) => ({ o, k, t }))).toEqual([
      { o: 'del', k: ['a', 'b', 'd'], t: undefined },
      { o: 'set', k: ['c'], t: undefined },
      { o: 'tags', k: ['t'], t: 999 },
    ]);
    heard.length = 0;
    await writes.retry();
    await settle();
    expect(heard).toEqual([]);
  });

  it('a retry that confirms only writes announces no delete, and the other way round', async () => {
    const { tier, writes, heard } = await withBus();
    tier.setDown(true);
    await writes.put('c', 'p{c}', 'c', envelope('c'));
    tier.setDown(false);
    await writes.retry();
    await settle();
    expect(heard.map((m) => m.o)).toEqual(['set']);
    heard.length = 0;
    tier.setDown(true);
    await writes.del(['a'], ['p{a}']);
    tier.setDown(false);
    await writes.retry();
    await settle();
    expect(heard.map((m) => m.o)).toEqual(['del']);
  });

  it('a late confirmation of an earlier write does not settle a later one the tier did not take', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000_000 });
    const broker = new MemoryBroker();
    const slow = broker.tier({ timeoutMs: 10_000 });
    const late = new DurableWrites(slow, undefined);
    open.push(late);
    broker.setHung(true);
    // Sent while the broker is hung: it runs (and is confirmed) only when the broker resumes.
    const first = late.put('k', 'p{k}', 'one', envelope('one'));
    const firstPrefix = late.delPrefix('p{', () => undefined);
    const firstTag = late.tag('t', 'p__tag:{t}', 1, 60_000);
    await settle();
    vi.setSystemTime(1_000_001);
    slow.setDown(true);
    const two = envelope('two');
    await late.put('k', 'p{k}', 'two', two);
    await late.delPrefix('p{', () => undefined);
    await late.tag('t', 'p__tag:{t}', 2, 60_000);
    slow.setDown(false);
    broker.setHung(false);
    await Promise.all([first, firstPrefix, firstTag]);
    expect(late.pending).toBe(3);
    expect(late.override('p{k}', 0)).toBe(two);
    await late.retry();
    expect(late.pending).toBe(0);
    expect(broker.read('p__tag:{t}')).toBe('2');
  });

  it('keeps retrying every second while the tier does not answer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { broker, tier, writes } = setup();
    broker.write('p{k}', 'old', 60_000);
    broker.setHung(true);
    const del = writes.del(['k'], ['p{k}']);
    await vi.advanceTimersByTimeAsync(60);
    await del;
    expect(tier.timeouts).toBe(1);
    // The retry a second later times out too, and the one after it is scheduled.
    await vi.advanceTimersByTimeAsync(1_060);
    expect(tier.timeouts).toBe(2);
    broker.setHung(false);
    expect(writes.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes.pending).toBe(0);
  });

  it('waits for the connection before retrying', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { broker, tier, writes } = setup();
    tier.setDown(true);
    await writes.del(['k'], ['p{k}']);
    await vi.advanceTimersByTimeAsync(2_500);
    broker.write('p{k}', 'old', 60_000);
    tier.setDown(false);
    expect(writes.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes.pending).toBe(0);
    expect(broker.read('p{k}')).toBeNull();
  });

  it('after close() nothing is retried by itself', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { tier, writes } = setup();
    tier.setDown(true);
    await writes.del(['k'], ['p{k}']);
    writes.close();
    // A retry asked for after close (a late recovery) that fails schedules nothing either.
    await writes.retry();
    tier.setDown(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(writes.pending).toBe(1);
  });
});
