import type { CacheStatsSnapshot } from '../interfaces/cache-stats.interface.js';
import { RedisTier } from '../l2/redis-tier.js';
import { LOAD_BUCKETS_MS } from '../stats/cache-stats.js';
import type { CacheEngine } from './cache-engine.js';

/** Reads an engine's counters and state into the public snapshot shape. */
export function snapshotOf(engine: CacheEngine): CacheStatsSnapshot {
  const s = engine.stats;
  const { l1, bus, shared } = engine;
  // Redis diagnostics (breaker, named problems); other shared tiers have none.
  const l2 = shared instanceof RedisTier ? shared : undefined;
  return {
    l1: {
      enabled: l1 !== undefined,
      hits: s.l1Hits,
      misses: s.l1Misses,
      entries: l1?.size ?? 0,
      bytes: l1?.bytes ?? 0,
    },
    l2: {
      enabled: !engine.isL1Only,
      connected: shared.connected,
      hits: s.l2Hits,
      misses: s.l2Misses,
      errors: s.l2Errors,
      timeouts: s.l2Timeouts,
      skipped: s.l2Skipped,
      corrupt: s.corrupt,
      breaker: shared.breaker?.state ?? 'closed',
      breakerOpens: shared.breaker?.opens ?? 0,
      pendingWrites: engine.durable.pending,
      problem: l2?.problem,
      problemMessage: l2?.problemMessage,
      missingPermissions: l2?.missingPermissions.map((m) => m.rule) ?? [],
    },
    loads: {
      calls: s.loads,
      errors: s.loadErrors,
      coalesced: s.coalesced,
      durationMsSum: s.loadMsSum,
      durationCount: s.loadCount,
      durationHistogram: { boundsMs: LOAD_BUCKETS_MS, counts: [...s.loadBuckets] },
    },
    lease: {
      enabled: engine.lease !== undefined && engine.options.entry.lock,
      acquired: s.leaseAcquired,
      waits: s.leaseWaits,
      timeouts: s.leaseTimeouts,
      lost: s.leaseLost,
    },
    bus: {
      enabled: bus !== undefined,
      connected: bus?.connected ?? false,
      published: s.busPublished,
      publishFailures: s.busPublishFailures,
      received: s.busReceived,
      gaps: s.busGaps,
    },
    tracking: {
      enabled: engine.tracking !== undefined,
      status: engine.tracking?.status ?? 'off',
      refusal: engine.tracking?.refusal,
      messages: s.trackingMessages,
      keys: s.trackingKeys,
      flushes: s.trackingFlushes,
      gaps: s.trackingGaps,
    },
    tags: { invalidations: s.tagInvalidations },
    grace: {
      staleServed: s.staleServed,
      refreshes: s.refreshes,
      refreshErrors: s.refreshErrors,
      earlyRefreshes: s.earlyRefreshes,
      softTimeouts: s.softTimeouts,
      hardTimeouts: s.hardTimeouts,
    },
    serializationErrors: s.serializationErrors,
    sets: s.sets,
    deletes: s.deletes,
    degraded: l2 !== undefined && (!l2.connected || l2.problem !== undefined),
  };
}
