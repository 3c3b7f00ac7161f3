import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { escapeGlob } from '../keys/cache-key.util.js';
import { guardSockets, isCluster, type RedisClient } from './redis-connection.js';

/** A permission the Redis user lacks, and what stops working without it. */
export interface MissingPermission {
  /** The ACL rule to grant: `+publish`, `+script|load`, `~<keyPrefix>*`, `&<bus channel>`. */
  rule: string;
  /** The command that was refused (NOPERM), upper case. */
  command: string;
  /** What the cache cannot do without it. */
  consequence: string;
}

/** Where the cache works in Redis, and how long each probe may wait (milliseconds). */
export interface PermissionProbeTarget {
  keyPrefix: string;
  /** The invalidation bus channel (`${keyPrefix}__bus:v1`). */
  channel: string;
  timeoutMs: number;
}

/** What stops working without each command. Exported for the README's table and the specs. */
export const CONSEQUENCES = {
  GET: 'entries are never read from Redis: every instance loads on its own',
  MGET: 'reads with lock: false (and their write version) fail: such loads keep their results in L1 only',
  SET: 'loaded values and tag invalidations are never stored in Redis',
  DEL: 'values are not stored after a load, set() and @CachePut do not reach Redis, leases are freed only by expiry',
  UNLINK: 'del(), @CacheEvict and clear() do not remove entries from Redis: other instances read the old value until it expires',
  EXISTS: 'the fleet-wide lease is never taken: every instance runs the loader on a miss',
  PTTL: "waiting for another instance's load fails: every instance runs the loader on a miss",
  PEXPIRE: 'leases are not extended during long loads: another instance may run the same load after leaseTtl',
  INCR: "evictions do not bump the entry's version: a load in flight during an eviction may store its stale value",
  SCAN: 'clear() and allEntries/namespace evictions do not reach Redis',
  PUBLISH: 'other instances are not told of writes and evictions: they serve stale L1 copies until l1.ttl',
  SUBSCRIBE: "this instance is not told of other instances' writes and evictions: it serves stale L1 copies until l1.ttl",
  EVALSHA: 'the lease and store scripts fail: loaded values are not stored in Redis and every instance runs the loader on a miss',
  EVAL: 'when Redis has forgotten the scripts (restart, SCRIPT FLUSH), leases and stores fail until the next reconnect',
  'SCRIPT|LOAD': 'scripts are not loaded on connect: each is sent in full (EVAL) on first use',
  PING: 'the health check reports Redis down',
  INFO: 'ioredis skips its ready check (with a warning on each connect) and cannot wait for Redis to finish loading',
} as const satisfies Record<string, string>;

/** Valid JSON (for any other reader of the channel) without a sender: every instance drops it uncounted. */
const PROBE_MESSAGE = JSON.stringify({ probe: 'nestjs-tiered-cache permission check' });

const KEYS = 'nothing is read from or written to Redis under the key prefix';
const CHANNEL = 'the invalidation bus does not work: instances serve stale L1 copies until l1.ttl';

type Command = keyof typeof CONSEQUENCES;

/**
 * Sends each command the library needs once, in a harmless form (a probe key under the key
 * prefix, with a TTL, deleted after; the bus channel with a message receivers ignore; a short
 * lived subscriber connection), and lists those Redis refused with NOPERM. Anything else (a
 * time-out, another error) is not a missing permission and is left out, so a slow Redis never
 * produces a false report. Never throws.
 */
export async function findMissingPermissions(client: RedisClient, target: PermissionProbeTarget): Promise<MissingPermission[]> {
  const { keyPrefix, channel, timeoutMs } = target;
  const key = `${keyPrefix}__probe:${randomBytes(6).toString('base64url')}`;
  const refused = new Map<string, MissingPermission>();
  const probe = async (command: Command, send: () => Promise<unknown>): Promise<boolean> => {
    const err = await within(timeoutMs, send);
    if (err === undefined || !err.message.startsWith('NOPERM')) return err === undefined;
    const m = refusal(command, err.message, keyPrefix, channel);
    if (!refused.has(m.rule)) refused.set(m.rule, m);
    return false;
  };

  const stored = await probe('SET', () => client.set(key, 'probe', 'PX', Math.max(1_000, timeoutMs * 4)));
  // INCR creates a key without a TTL when there is none: only probe it on the string just SET,
  // where it fails with "not an integer" once the permission check has passed.
  await Promise.all([
    stored && probe('INCR', () => client.incr(key)),
    probe('PEXPIRE', () => client.pexpire(key, Math.max(1_000, timeoutMs * 4))),
    probe('PTTL', () => client.pttl(key)),
    probe('EXISTS', () => client.exists(key)),
    probe('GET', () => client.get(key)),
    probe('MGET', () => client.mget(key)),
    probe('SCAN', () => client.scan('0', 'MATCH', escapeGlob(key), 'COUNT', 1)),
    probe('EVALSHA', () => client.evalsha(PROBE_SHA, 0)),
    probe('EVAL', () => client.eval('return 1', 0)),
    probe('SCRIPT|LOAD', () => client.script('LOAD', 'return 1')),
    probe('PUBLISH', () => client.publish(channel, PROBE_MESSAGE)),
    probe('PING', () => client.ping()),
    probe('INFO', () => client.info('persistence')),
    probe('SUBSCRIBE', () => subscribeOnce(client, channel, timeoutMs)),
  ]);
  await Promise.all([probe('DEL', () => client.del(key)), probe('UNLINK', () => client.unlink(key))]);
  return [...refused.values()];
}

/** SHA1 of `return 1`: EVALSHA answers NOSCRIPT or 1 once permitted, NOPERM otherwise. */
const PROBE_SHA = 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db';

/**
 * One line for the log and the health payload: the rules to grant, then what each one costs.
 * Holds no secret (the user name is left as `<user>`).
 */
export function describeMissing(missing: readonly MissingPermission[]): string {
  const rules = missing.map((m) => m.rule).join(' ');
  const costs = missing.map((m) => `${m.command} (${m.rule}): ${m.consequence}`).join('; ');
  return `The Redis user lacks permissions the cache needs; grant them with ACL SETUSER <user> ${rules}. Until then: ${costs}.`;
}

function refusal(command: Command, message: string, keyPrefix: string, channel: string): MissingPermission {
  if (message.includes('keys')) return { rule: `~${escapeGlob(keyPrefix)}*`, command, consequence: KEYS };
  if (message.includes('channel')) return { rule: `&${escapeGlob(channel)}`, command, consequence: CHANNEL };
  return { rule: `+${command.toLowerCase()}`, command, consequence: CONSEQUENCES[command] };
}

/** The error `send` rejected with, undefined if it resolved, or a time-out error after `ms`. */
async function within(ms: number, send: () => Promise<unknown>): Promise<Error | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      send().then(
        () => undefined,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      ),
      new Promise<Error>((resolve) => {
        timer = setTimeout(() => resolve(new Error('probe timed out')), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SUBSCRIBE on a connection of its own (a command connection cannot subscribe), closed right
 * after. On a Cluster, any primary serves pub/sub.
 */
async function subscribeOnce(client: RedisClient, channel: string, timeoutMs: number): Promise<void> {
  const base: Redis | undefined = isCluster(client) ? client.nodes('master')[0] : client;
  if (base === undefined) return;
  const sub = guardSockets(
    base.duplicate({
      lazyConnect: true,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      autoResubscribe: false,
      connectTimeout: Math.max(timeoutMs, 1_000),
    }),
  );
  sub.on('error', () => undefined);
  try {
    await sub.connect();
    await sub.subscribe(channel);
  } finally {
    sub.disconnect(false);
  }
}
