/** A point-in-time snapshot of one cache's counters, as returned by `TieredCacheService.stats()`. */
export interface CacheStatsSnapshot {
  l1: {
    /** Whether L1 is configured. */
    enabled: boolean;
    hits: number;
    misses: number;
    /** Entries held now. */
    entries: number;
    /** Approximate bytes held now (0 unless `l1.maxSize` is set). */
    bytes: number;
  };
  l2: {
    /** Whether Redis is configured. */
    enabled: boolean;
    /** Whether the command connection is ready now. */
    connected: boolean;
    hits: number;
    misses: number;
    /** Commands that failed (connection refused, Redis error). */
    errors: number;
    /** Commands abandoned after `l2Timeout`. */
    timeouts: number;
    /** Commands skipped because the connection was not ready. */
    skipped: number;
    /** Entries that did not decode, or were over `maxValueBytes`: deleted and treated as misses. */
    corrupt: number;
    /** The circuit breaker: `open` while no commands are sent to Redis. */
    breaker: 'closed' | 'open' | 'half-open';
    /** Times the breaker opened. */
    breakerOpens: number;
    /**
     * Writes and invalidations (sets, deletes, prefix deletes, tag markers) Redis has not
     * confirmed yet: retried every second and on recovery until it does. 0 when all landed.
     */
    pendingWrites: number;
    /**
     * What keeps Redis from working fully, if anything:
     * - `'auth'`: Redis refused the credentials (wrong or missing password, disabled user);
     * - `'tls'`: the TLS handshake failed (untrusted CA, host name not in the certificate,
     *   client certificate missing or refused);
     * - `'unreachable'`: no connection (refused, reset, timed out);
     * - `'permission'`: connected, but the ACL user lacks permissions (`missingPermissions`).
     * `auth` and `tls` do not heal by waiting: fix the `redis` option.
     */
    problem: 'auth' | 'permission' | 'tls' | 'unreachable' | undefined;
    /** What `problem` means and how to fix it, as logged; never holds a password or key. */
    problemMessage: string | undefined;
    /**
     * ACL rules the Redis user lacks, as checked on each (re)connection: `'+publish'`,
     * `'+evalsha'`, `'~<keyPrefix>*'`, `'&<bus channel>'`, ... Empty when all is granted.
     */
    missingPermissions: string[];
  };
  loads: {
    /** Loader (decorated method) runs. */
    calls: number;
    /** Loader runs that threw or rejected. */
    errors: number;
    /** Callers that joined a load already in flight in this process. */
    coalesced: number;
    /** Total loader time of finished loads (successful or not), in milliseconds. */
    durationMsSum: number;
    /** Finished loads counted in `durationMsSum` and the histogram. */
    durationCount: number;
    /** Cumulative histogram of loader durations: `counts[i]` loads took <= `boundsMs[i]` ms. */
    durationHistogram: { boundsMs: readonly number[]; counts: number[] };
  };
  /** The fleet-wide lease per key (one loader across instances). */
  lease: {
    /** Whether misses take a Redis lease by default (`lock` option, with Redis configured). */
    enabled: boolean;
    /** Leases taken: this instance ran the loader for the fleet. */
    acquired: number;
    /** Loads that waited for another instance's lease. */
    waits: number;
    /** Waits that ran out (`lockWaitTimeout`). */
    timeouts: number;
    /** Loads whose result was dropped because the key was evicted while they ran. */
    lost: number;
  };
  /** The invalidation bus (Redis pub/sub between instances). */
  bus: {
    enabled: boolean;
    /** Whether the subscriber connection is subscribed now. */
    connected: boolean;
    published: number;
    publishFailures: number;
    /** Messages received from other instances. */
    received: number;
    /** Reconnections after which L1 was dropped because messages may have been missed. */
    gaps: number;
  };
  /** Server-assisted invalidation (`tracking` option: Redis reports every change under `keyPrefix`). */
  tracking: {
    /** Whether tracking is configured (`tracking: true`, with Redis and L1). */
    enabled: boolean;
    /**
     * `on`: Redis reports every change; `connecting`: not yet, or not since a connection dropped
     * (L1 is dropped once it is back on); `refused`: the server refused `CLIENT TRACKING`, the bus
     * alone invalidates; `off`: not configured.
     */
    status: 'on' | 'connecting' | 'refused' | 'off';
    /** The server's reply when it refused tracking. */
    refusal: string | undefined;
    /** Invalidation messages received from Redis. */
    messages: number;
    /** Keys named in them that this cache stores (entries and tag markers). */
    keys: number;
    /** Flushes reported (FLUSHDB/FLUSHALL): L1 was dropped. */
    flushes: number;
    /** Times tracking came back after a connection dropped: L1 was dropped. */
    gaps: number;
  };
  tags: {
    /** Tags invalidated by this instance. */
    invalidations: number;
  };
  /** Grace periods, background refreshes and loader timeouts. */
  grace: {
    /** Reads answered with a stale value in its grace period. */
    staleServed: number;
    /** Background refreshes run (grace and early refresh). */
    refreshes: number;
    /** Background refreshes whose loader failed (the stale value kept being served). */
    refreshErrors: number;
    /** Early refreshes started by XFetch before expiry. */
    earlyRefreshes: number;
    /** Reads that got the stale value because the refresh outlasted `softTimeout`. */
    softTimeouts: number;
    /** Reads that failed with `LoaderTimeoutError` after `hardTimeout`. */
    hardTimeouts: number;
  };
  /** Values that could not be serialized: returned to their caller, not cached. */
  serializationErrors: number;
  sets: number;
  deletes: number;
  /**
   * Whether the cache runs without its shared tier, or part of it, right now: Redis configured but
   * not connected, or connected with permissions missing (`l2.problem`).
   */
  degraded: boolean;
}
