import { channel } from 'node:diagnostics_channel';
import type { ReadOutcome } from '../interfaces/read-outcome.interface.js';

/**
 * Names of the `node:diagnostics_channel` channels the cache publishes on, as lru-cache and undici
 * do: nothing is published, and the read path pays one `hasSubscribers` check, while nobody
 * listens. `nestjs-tiered-cache/opentelemetry` subscribes to them; so can your own tooling.
 * - `read:start` / `read:end`: a read through the cache (`getOrSet`, `@Cacheable`, the compat
 *   interceptor and `wrap()`), L1 hits included; `end` carries the outcome or the error.
 * - `load:start` / `load:end`: a loader run, inside the read that needed it.
 * @publicApi
 */
export const CACHE_TRACE_CHANNELS = {
  readStart: 'nestjs-tiered-cache:read:start',
  readEnd: 'nestjs-tiered-cache:read:end',
  loadStart: 'nestjs-tiered-cache:load:start',
  loadEnd: 'nestjs-tiered-cache:load:end',
} as const;

/**
 * The message of every trace channel. The same object goes to `start` and `end`, so a subscriber
 * can keep what it started (a span) against it.
 * @publicApi
 */
export interface CacheTraceMessage {
  /** Which cache (its instance id, as in the bus): two apps in one process trace apart. */
  readonly cache: string;
  /** The key as stored (scoped by `keyContext`, without `keyPrefix`). */
  readonly key: string;
  /** On `read:end`: how the read was answered. */
  outcome: ReadOutcome | undefined;
  /** On `end`: the error the read or load failed with. */
  error: unknown;
  /**
   * Runs the traced work. A `start` subscriber may replace it to run the work in a context of its
   * own (e.g. OpenTelemetry's `context.with`), so spans opened inside nest under it.
   */
  run: <T>(fn: () => T) => T;
}

export const readStart = channel(CACHE_TRACE_CHANNELS.readStart);
export const readEnd = channel(CACHE_TRACE_CHANNELS.readEnd);
export const loadStart = channel(CACHE_TRACE_CHANNELS.loadStart);
export const loadEnd = channel(CACHE_TRACE_CHANNELS.loadEnd);

const direct = <T>(fn: () => T): T => fn();

export function traceMessage(cache: string, key: string): CacheTraceMessage {
  return { cache, key, outcome: undefined, error: undefined, run: direct };
}
