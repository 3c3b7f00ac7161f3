import { Cluster, Redis } from 'ioredis';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { RedisCluster } from './redis-cluster.js';
import { commandCalls, rawClient, RedisServer } from './redis-server.js';

/**
 * One Redis deployment a suite runs against (a single server, or a Cluster), with what the tests
 * need to inspect it the same way: the `redis` option to give the cache (and fleet workers), and
 * a raw view over every primary.
 */
export interface Topology {
  readonly name: 'standalone' | 'cluster';
  /** The `redis` option (JSON-serializable, so fleet workers get the same). */
  readonly redis: Exclude<TieredCacheModuleOptions['redis'], undefined | false>;
  /** A plain client for inspection (a Cluster client on a Cluster). */
  readonly raw: Redis | Cluster;
  /** A connection to every primary. */
  primaries(): Redis[];
  /** Every key matching a SCAN pattern, on every primary. */
  keys(pattern: string): Promise<string[]>;
  /** How often each primary ran `command` (INFO commandstats), one number per primary. */
  callsPerPrimary(command: string): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startStandalone(): Promise<Topology> {
  const server = await RedisServer.start();
  const raw = rawClient(server);
  return {
    name: 'standalone',
    redis: server.url,
    raw,
    primaries: () => [raw],
    keys: (pattern) => scanAll(raw, pattern),
    callsPerPrimary: async (command) => [await commandCalls(raw, command)],
    stop: async () => {
      await raw.quit();
      await server.stop();
    },
  };
}

export async function startCluster(): Promise<Topology & { cluster: RedisCluster }> {
  const cluster = await RedisCluster.start();
  const raw = cluster.rawClient();
  await new Promise<void>((resolve, reject) => {
    raw.once('ready', () => resolve());
    raw.once('error', reject);
  });
  const primaries = () => raw.nodes('master');
  return {
    name: 'cluster',
    cluster,
    // One startup node is enough: the client discovers the others.
    redis: { cluster: cluster.startupNodes.slice(0, 1) },
    raw,
    primaries,
    keys: async (pattern) => (await Promise.all(primaries().map((n) => scanAll(n, pattern)))).flat(),
    callsPerPrimary: (command) => Promise.all(primaries().map((n) => commandCalls(n, command))),
    stop: async () => {
      await raw.quit().catch(() => undefined);
      await cluster.stop();
    },
  };
}

async function scanAll(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/**
 * The keys that hold entries (values, leases, tag markers): a write or an eviction also leaves the
 * key's write version (`…:ver`, expiring after a minute), and `clear()` its clear markers
 * (`…__clear:v1`, one per slot on a Cluster, expiring after a day); neither holds a value.
 */
export function withoutVersions(keys: readonly string[]): string[] {
  return keys.filter((k) => !k.endsWith(':ver') && !k.includes('__clear:v1'));
}
