/** How a read was answered. */
export type ReadOutcome =
  /** From this instance's memory. */
  | 'l1'
  /** From Redis. */
  | 'l2'
  /** A stale value in its grace period (a refresh runs in the background). */
  | 'stale'
  /** This call ran the loader. */
  | 'load'
  /** Another instance's load, waited for through the fleet lease. */
  | 'fleet'
  /** Joined a load already in flight in this process. */
  | 'coalesced';

/** One traced unit of work: run code inside it (so nested spans attach to it), then end it. */
export interface ObservedScope {
  run<T>(fn: () => T): T;
  end(error?: unknown, outcome?: ReadOutcome): void;
}

/**
 * Receives cache operations as they happen, for tracing (see `nestjs-tiered-cache/opentelemetry`).
 * When none is installed, the cache pays one property check per call.
 */
export interface CacheObserver {
  /** A read through the cache (`getOrSet`, `@Cacheable`) started. */
  read(key: string): ObservedScope;
  /** A loader run started (inside the read that needed it). */
  load(key: string): ObservedScope;
}
