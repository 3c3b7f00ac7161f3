/** Loader duration buckets, milliseconds (upper bounds, Prometheus `le` style). */
export const LOAD_BUCKETS_MS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000];

/** Plain counters, bumped on the hot path (a field increment each) and read by `stats()`. */
export class CacheStats {
  l1Hits = 0;
  l1Misses = 0;
  l2Hits = 0;
  l2Misses = 0;
  l2Errors = 0;
  l2Timeouts = 0;
  l2Skipped = 0;
  corrupt = 0;
  loads = 0;
  loadErrors = 0;
  coalesced = 0;
  loadMsSum = 0;
  /** Loads whose duration was recorded (finished, successfully or not). */
  loadCount = 0;
  readonly loadBuckets: number[] = LOAD_BUCKETS_MS.map(() => 0);
  serializationErrors = 0;
  sets = 0;
  deletes = 0;
  leaseAcquired = 0;
  leaseWaits = 0;
  leaseTimeouts = 0;
  leaseLost = 0;
  busPublished = 0;
  busPublishFailures = 0;
  busReceived = 0;
  busGaps = 0;
  trackingMessages = 0;
  trackingKeys = 0;
  trackingFlushes = 0;
  trackingGaps = 0;
  tagInvalidations = 0;
  staleServed = 0;
  refreshes = 0;
  refreshErrors = 0;
  earlyRefreshes = 0;
  softTimeouts = 0;
  hardTimeouts = 0;

  recordLoad(ms: number): void {
    this.loadCount++;
    this.loadMsSum += ms;
    const b = this.loadBuckets;
    for (let i = 0; i < b.length; i++) if (ms <= LOAD_BUCKETS_MS[i]!) b[i]!++;
  }
}
