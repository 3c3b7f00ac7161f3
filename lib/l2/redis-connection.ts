import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import type { ResolvedOptions } from '../options/resolve-options.js';

export type RedisClient = Redis | Cluster;

/** A Redis client and whether the library created it (and so must close it). */
export interface OwnedClient {
  client: RedisClient;
  owned: boolean;
}

/**
 * Settings for clients the library creates. No offline queue: while Redis is away commands are
 * not piled up in memory, the cache answers from L1 and loaders instead. Auto-pipelining batches
 * the commands of concurrent calls into one write.
 */
const DEFAULTS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  // ioredis waits this long for a socket that already failed to emit 'close' again on disconnect.
  disconnectTimeout: 200,
  retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
};

export function isRedisInstance(v: unknown): v is RedisClient {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Redis).sendCommand === 'function' &&
    typeof (v as Redis).status === 'string'
  );
}

/** Builds the command client from the `redis` option; an instance passed in is used as is. */
export function createRedisClient(option: Exclude<ResolvedOptions['redis'], false>): OwnedClient {
  if (isRedisInstance(option)) return { client: option, owned: false };
  if (typeof option === 'string') return { client: new Redis(option, DEFAULTS), owned: true };
  return { client: new Redis({ ...DEFAULTS, ...(option as RedisOptions) }), owned: true };
}
