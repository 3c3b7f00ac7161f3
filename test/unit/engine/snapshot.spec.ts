import { Logger } from '@nestjs/common';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createServer } from 'node:net';
import { createCodec } from '../../../lib/codec/serializers.js';
import { CacheEngine } from '../../../lib/engine/cache-engine.js';
import { createRedisClient } from '../../../lib/l2/redis-connection.js';
import { RedisTier } from '../../../lib/l2/redis-tier.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';
import { MemoryBroker } from '../../../lib/shared/memory-shared-tier.js';
import { CacheStats } from '../../../lib/stats/cache-stats.js';
import type { Tracking, TrackingListener } from '../../../lib/shared/shared-tier.interface.js';
import { LOAD_BUCKETS_MS } from '../../../lib/stats/cache-stats.js';
import { closeAll, deferred, engineOver, settle } from './support/engine-fleet.js';

/**
 * `stats()` (snapshot.ts): every field after a known sequence of operations, as the README's
 * Observability section documents them; the health and metrics endpoints read the same snapshot.
 */
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await closeAll();
});

const T0 = 1_800_000_000_000;

/** Histogram counts (cumulative, Prometheus `le`) of loads lasting `durations` ms. */
const cumulative = (...durations: number[]) => LOAD_BUCKETS_MS.map((le) => durations.filter((d) => d <= le).length);

const quiet = {
  grace: { staleServed: 0, refreshes: 0, refreshErrors: 0, earlyRefreshes: 0, softTimeouts: 0, hardTimeouts: 0 },
  tracking: { enabled: false, status: 'off', refusal: undefined, messages: 0, keys: 0, flushes: 0, gaps: 0 },
};

describe('stats()', () => {
  it('a fresh engine over a shared tier', async () => {
    const broker = new MemoryBroker();
    const { cache } = await engineOver(broker.tier());
    expect(cache.stats()).toEqual({
      l1: { enabled: true, hits: 0, misses: 0, entries: 0, bytes: 0 },
      l2: {
        enabled: true,
        connected: true,
        hits: 0,
        misses: 0,
        errors: 0,
        timeouts: 0,
        skipped: 0,
        corrupt: 0,
        breaker: 'closed',
        breakerOpens: 0,
        pendingWrites: 0,
        problem: undefined,
        problemMessage: undefined,
        missingPermissions: [],
      },
      loads: {
        calls: 0,
        errors: 0,
        coalesced: 0,
        durationMsSum: 0,
        durationCount: 0,
        durationHistogram: { boundsMs: LOAD_BUCKETS_MS, counts: cumulative() },
      },
      lease: { enabled: true, acquired: 0, waits: 0, timeouts: 0, lost: 0 },
      bus: { enabled: true, connected: true, published: 0, publishFailures: 0, received: 0, gaps: 0 },
      ...quiet,
      tags: { invalidations: 0 },
      serializationErrors: 0,
      sets: 0,
      deletes: 0,
      degraded: false,
    });
  });

  it('counts hits per tier, misses, loads, errors, coalesced calls, writes and the bus', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'], now: T0 });
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const broker = new MemoryBroker();
    const a = await engineOver(broker.tier(), { l1: { max: 100, ttl: 60_000, maxSize: 1_000_000 } });
    const b = await engineOver(broker.tier());

    // A load of 30 ms: an L1 miss, an L2 miss, a lease, one load.
    await a.cache.getOrSet('a', () => {
      vi.advanceTimersByTime(30);
      return 1;
    });
    await a.cache.getOrSet('a', () => 2); // L1 hit
    expect(await a.cache.get('b')).toBeUndefined(); // L1 and L2 miss
    await a.cache.set('c', 3); // a set, announced
    await a.cache.del(['c', 'd']); // two deletes, announced once
    // A load that fails after 700 ms, and a caller that joins it.
    const gate = deferred<number>();
    const failing = a.cache.getOrSet('e', () => gate.promise);
    const joined = a.cache.getOrSet('e', () => 0);
    await settle();
    vi.advanceTimersByTime(700);
    gate.reject(new Error('boom'));
    await expect(failing).rejects.toThrow('boom');
    await expect(joined).rejects.toThrow('boom');
    await a.cache.invalidateTags(['t', 'u']); // two tag invalidations, announced once
    await a.cache.getOrSet('n', () => 5n); // cannot be serialized
    broker.write('p:{z}', 'junk', 60_000);
    expect(await a.cache.get('z')).toBeUndefined(); // corrupt
    await settle();
    expect(await b.cache.get('a')).toBe(1); // b: an L2 hit

    const sa = a.cache.stats();
    expect(sa).toEqual({
      l1: { enabled: true, hits: 1, misses: 6, entries: 1, bytes: broker.read('p:{a}')!.length },
      l2: {
        enabled: true,
        connected: true,
        hits: 0,
        misses: 5,
        errors: 0,
        timeouts: 0,
        skipped: 0,
        corrupt: 1,
        breaker: 'closed',
        breakerOpens: 0,
        pendingWrites: 0,
        problem: undefined,
        problemMessage: undefined,
        missingPermissions: [],
      },
      loads: {
        calls: 3,
        errors: 1,
        coalesced: 1,
        durationMsSum: 730,
        durationCount: 3,
        durationHistogram: { boundsMs: LOAD_BUCKETS_MS, counts: cumulative(30, 700, 0) },
      },
      lease: { enabled: true, acquired: 3, waits: 0, timeouts: 0, lost: 0 },
      bus: { enabled: true, connected: true, published: 5, publishFailures: 0, received: 0, gaps: 0 },
      ...quiet,
      tags: { invalidations: 2 },
      serializationErrors: 1,
      sets: 1,
      deletes: 2,
      degraded: false,
    });
    const sb = b.cache.stats();
    expect(sb.l1).toEqual({ enabled: true, hits: 0, misses: 1, entries: 1, bytes: 0 });
    expect(sb.l2).toMatchObject({ hits: 1, misses: 0 });
    // a's five announcements, and the lease's store of 'a' (published by the tier with the write).
    expect(sb.bus.received).toBe(6);
    expect(sb.loads.calls).toBe(0);
  });

  it('counts unconfirmed writes and a bus that cannot publish while the tier is down', async () => {
    const broker = new MemoryBroker();
    const tier = broker.tier({ timeoutMs: 50 });
    const { cache } = await engineOver(tier);
    tier.setDown(true);
    await cache.set('k', 1);
    await cache.del('j');
    expect(await cache.get('x')).toBeUndefined();
    const s = cache.stats();
    expect(s.l2).toMatchObject({ connected: false, pendingWrites: 2 });
    expect(s.bus).toMatchObject({ connected: false, published: 2, publishFailures: 2 });
    expect(s.degraded).toBe(false);
  });

  it('without a shared tier: L2, lease and bus are off', async () => {
    const { cache } = await engineOver(undefined);
    await cache.getOrSet('k', () => 1);
    await cache.getOrSet('k', () => 2);
    const s = cache.stats();
    expect(s.l1).toEqual({ enabled: true, hits: 1, misses: 1, entries: 1, bytes: 0 });
    expect(s.l2).toMatchObject({ enabled: false, connected: false, hits: 0, breaker: 'closed', pendingWrites: 0 });
    expect(s.lease).toEqual({ enabled: false, acquired: 0, waits: 0, timeouts: 0, lost: 0 });
    expect(s.bus).toEqual({ enabled: false, connected: false, published: 0, publishFailures: 0, received: 0, gaps: 0 });
    expect(s.tracking).toEqual(quiet.tracking);
    expect(s.loads.calls).toBe(1);
  });

  it('without L1: no L1 entries or bytes; with lock: false no lease', async () => {
    const broker = new MemoryBroker();
    const { cache } = await engineOver(broker.tier(), { l1: false, lock: false });
    await cache.getOrSet('k', () => 1);
    await settle();
    expect(await cache.getOrSet('k', () => 2)).toBe(1);
    const s = cache.stats();
    expect(s.l1).toEqual({ enabled: false, hits: 0, misses: 0, entries: 0, bytes: 0 });
    expect(s.l2).toMatchObject({ hits: 1, misses: 1 });
    expect(s.lease.enabled).toBe(false);
    expect(s.bus.enabled).toBe(true);
  });

  it("reports the tier's circuit breaker", async () => {
    const broker = new MemoryBroker();
    const tier = Object.assign(broker.tier(), { breaker: { state: 'open' as const, opens: 2 } });
    const { cache } = await engineOver(tier);
    expect(cache.stats().l2).toMatchObject({ breaker: 'open', breakerOpens: 2 });
  });

  /** A tier that supports tracking (as Redis does); `starts` records each start's wait, in ms. */
  function trackingTier(broker: MemoryBroker) {
    const starts: number[] = [];
    const tracking: Tracking = {
      status: 'refused',
      refusal: 'CLIENT TRACKING not allowed',
      start: async (waitMs) => void starts.push(waitMs),
      close: async () => undefined,
    };
    let listener: TrackingListener | undefined;
    const tier = Object.assign(broker.tier(), {
      track: (_prefix: string, l: TrackingListener) => {
        listener = l;
        return tracking;
      },
    });
    return { tier, starts, listener: () => listener };
  }

  it('reports server-assisted tracking and its refusal; it is started on connect', async () => {
    const broker = new MemoryBroker();
    const t = trackingTier(broker);
    const { cache } = await engineOver(t.tier, { connectTimeout: 1_500 });
    expect(t.listener()).toBeDefined();
    expect(t.starts).toEqual([1_500]);
    expect(cache.stats().tracking).toEqual({
      enabled: true,
      status: 'refused',
      refusal: 'CLIENT TRACKING not allowed',
      messages: 0,
      keys: 0,
      flushes: 0,
      gaps: 0,
    });
  });

  it('tracking is off with tracking: false, and without L1', async () => {
    const broker = new MemoryBroker();
    const off = trackingTier(broker);
    expect((await engineOver(off.tier, { tracking: false })).cache.stats().tracking.enabled).toBe(false);
    expect(off.listener()).toBeUndefined();
    const noL1 = trackingTier(broker);
    expect((await engineOver(noL1.tier, { l1: false })).cache.stats().tracking.enabled).toBe(false);
    expect(noL1.listener()).toBeUndefined();
  });

  it('a Redis that does not answer: not connected, degraded, with the problem and its message', async () => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    // A loopback port nobody listens on (taken, then freed): connections are refused at once.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const resolved = resolveOptions({ redis: `redis://127.0.0.1:${port}`, connectTimeout: 200 });
    const codec = await createCodec(resolved.serializer, resolved.maxValueBytes);
    const stats = new CacheStats();
    const tier = new RedisTier(createRedisClient(resolved.redis as string), codec.binary, resolved.l2Timeout, stats);
    const engine = new CacheEngine(resolved, codec, tier, stats);
    try {
      await engine.connect();
      const s = engine.snapshot();
      expect(s.l2).toMatchObject({ enabled: true, connected: false, breaker: 'closed', missingPermissions: [] });
      expect(s.l2.problem).toBe('unreachable');
      expect(s.l2.problemMessage).toMatch(/reach|refused/i);
      expect(s.degraded).toBe(true);
    } finally {
      await engine.close();
    }
  });
});
