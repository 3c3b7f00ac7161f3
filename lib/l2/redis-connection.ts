import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { SLOTS } from './key-slot.js';
import type { RedisClusterConfig } from '../interfaces/tiered-cache-options.interface.js';
import type { ResolvedOptions } from '../options/resolve-options.js';

export type RedisClient = Redis | Cluster;

/** A Redis client and whether the library created it (and so must close it). */
export interface OwnedClient {
  client: RedisClient;
  owned: boolean;
}

/** Reconnect delays: 100 ms, doubling, at most 2 s. */
const backoff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 2_000);

/**
 * Settings for clients the library creates. No offline queue: while Redis is away commands are
 * not piled up in memory, the cache answers from L1 and loaders instead. Auto-pipelining batches
 * the commands of concurrent calls into one write. They apply to a single Redis and to a Sentinel
 * set-up alike (with `sentinels`, ioredis asks the sentinels for the primary on every reconnect,
 * so a failover is followed by itself).
 */
const DEFAULTS: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  // ioredis waits this long for a socket that already failed to emit 'close' again on disconnect.
  disconnectTimeout: 200,
  retryStrategy: backoff,
};

/**
 * The same settings for a Cluster the library creates. The client-wide ones (offline queue,
 * auto-pipelining, lazy connect) are Cluster options; `clusterRetryStrategy` is the reconnect
 * back-off once every node is lost. The per-node connections always have an offline queue and no
 * reconnect of their own in ioredis (a lost node is replaced through the next `MOVED` and slot
 * refresh), so `redisOptions` only carries what applies to them.
 */
const CLUSTER_DEFAULTS: ClusterOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  enableAutoPipelining: true,
  clusterRetryStrategy: backoff,
  // Reads and writes go to primaries: a replica may not have an eviction or a lease yet.
  scaleReads: 'master',
};
const CLUSTER_NODE_DEFAULTS: NonNullable<ClusterOptions['redisOptions']> = {
  maxRetriesPerRequest: 1,
  disconnectTimeout: 200,
};

export function isRedisInstance(v: unknown): v is RedisClient {
  return typeof v === 'object' && v !== null && typeof (v as Redis).sendCommand === 'function' && typeof (v as Redis).status === 'string';
}

/** Whether the option is `{ cluster: [...nodes], options? }` (not a client instance). */
export function isClusterConfig(v: unknown): v is RedisClusterConfig {
  return typeof v === 'object' && v !== null && !isRedisInstance(v) && Array.isArray((v as RedisClusterConfig).cluster);
}

/** Whether the client is an ioredis Cluster (multi-key commands must stay within one slot). */
export function isCluster(client: RedisClient): client is Cluster {
  return (client as Cluster).isCluster === true;
}

/**
 * The connections to the primaries that serve every hash slot, by the client's slot map; or
 * undefined while some slot has no known, connected primary (during a failover), so a scan of
 * "every primary" is never silently partial.
 */
export function clusterPrimaries(cluster: Cluster): Redis[] | undefined {
  const byKey = new Map<string, Redis>();
  for (const node of cluster.nodes('master')) byKey.set(`${node.options.host}:${node.options.port}`, node);
  const used = new Set<Redis>();
  for (let slot = 0; slot < SLOTS; slot++) {
    const key = cluster.slots[slot]?.[0];
    const node = key === undefined ? undefined : byKey.get(key);
    if (node === undefined || node.status === 'end') return undefined;
    used.add(node);
  }
  return [...used];
}

/** Cluster options for a Cluster the library creates: the user's, over the library's defaults. */
export function clusterOptions(user: ClusterOptions | undefined): ClusterOptions {
  return {
    ...CLUSTER_DEFAULTS,
    ...user,
    redisOptions: { ...CLUSTER_NODE_DEFAULTS, ...user?.redisOptions },
  };
}

/** Builds the command client from the `redis` option; an instance passed in is used as is. */
export function createRedisClient(option: Exclude<ResolvedOptions['redis'], false>): OwnedClient {
  if (isRedisInstance(option)) return { client: option, owned: false };
  if (typeof option === 'string') return { client: guardSockets(new Redis(option, DEFAULTS)), owned: true };
  if (isClusterConfig(option)) {
    return { client: guardSockets(new Cluster(option.cluster, clusterOptions(option.options))), owned: true };
  }
  return { client: guardSockets(new Redis({ ...DEFAULTS, ...(option as RedisOptions) })), owned: true };
}

const ignore = (): void => undefined;

/**
 * Keeps a socket error from crashing the process. ioredis listens `once` for a socket's 'error';
 * a TLS socket closed during its handshake (a refused certificate, a disconnect while
 * connecting) can emit a second one, which nobody handles, so Node throws it. Every socket the
 * client opens gets a lasting listener (ioredis still gets the first error). For a client the
 * library creates; a Cluster's node connections are guarded as they appear. Returns the client.
 */
export function guardSockets<C extends RedisClient>(client: C): C {
  if (isCluster(client)) {
    client.on('+node', (node: Redis) => guardSockets(node));
    return client;
  }
  // `connector` is ioredis-internal: without it (another version) the guard is skipped.
  const connector = (client as unknown as { connector?: { connect?: (...args: unknown[]) => Promise<unknown> } }).connector;
  const connect = connector?.connect;
  if (connector === undefined || typeof connect !== 'function') return client;
  connector.connect = function (this: unknown, ...args: unknown[]) {
    return connect.apply(this, args).then((stream) => {
      (stream as { on?: (event: string, listener: () => void) => void }).on?.('error', ignore);
      return stream;
    });
  };
  return client;
}

/** Connection options of the client, or of a Cluster's node connections. */
function connectionOptions(client: RedisClient): RedisOptions {
  return isCluster(client) ? (client.options.redisOptions ?? {}) : client.options;
}

/** Whether the client (a Cluster: its node connections) connects with TLS. */
export function usesTls(client: RedisClient): boolean {
  return Boolean(connectionOptions(client).tls);
}

/**
 * The secrets the client was configured with (passwords, a TLS private key and passphrase), to
 * remove from any error text that is logged or reported.
 */
export function secretsOf(client: RedisClient): string[] {
  const o = connectionOptions(client);
  const tls = typeof o.tls === 'object' && o.tls !== null ? o.tls : {};
  const out: string[] = [];
  for (const v of [o.password, o.sentinelPassword, tls.passphrase, tls.key, (o.sentinelTLS as { key?: unknown } | undefined)?.key]) {
    if (typeof v === 'string' && v.length > 0) out.push(v);
    else if (Buffer.isBuffer(v)) out.push(v.toString('utf8'));
  }
  return out;
}
