import { isRedisInstance } from '../l2/redis-connection.js';
import { redact } from '../l2/redis-diagnosis.js';
import type { L1Options, SerializerOption, TieredCacheModuleOptions } from '../interfaces/tiered-cache-options.interface.js';
import { defaultPolicy, ENTRY_OPTION_NAMES, type EntryOptionName, type EntryPolicy } from './entry-policy.js';
import { beta, duration, fail, flag, fraction } from './option-checks.js';

/** Module options with every default filled in. Entry options are in `entry` (see entry-policy.ts). */
export interface ResolvedOptions {
  redis: Exclude<TieredCacheModuleOptions['redis'], undefined>;
  keyPrefix: string;
  /** The entry defaults: what a call or decorator without options gets. */
  entry: EntryPolicy;
  l1: (Required<Pick<L1Options, 'max' | 'ttl'>> & Pick<L1Options, 'maxSize' | 'sizeCalculation'>) | false;
  serializer: SerializerOption;
  l2Timeout: number;
  connectTimeout: number;
  maxKeyLength: number;
  leaseTtl: number;
  lockWaitTimeout: number;
  onLockTimeout: 'load' | 'error';
  bus: boolean;
  tracking: boolean;
  tagTtl: number;
  breaker: { threshold: number; openFor: number } | false;
  keyContext: (() => string | undefined) | undefined;
  maxValueBytes: number;
}

export const DEFAULTS = {
  keyPrefix: 'tiered-cache:',
  ttl: 60_000,
  nullTtl: 5_000,
  l1Max: 10_000,
  l1Ttl: 10_000,
  l2Timeout: 250,
  connectTimeout: 2_000,
  maxKeyLength: 256,
  leaseTtl: 2_000,
  lockWaitTimeout: 5_000,
  tagTtl: 86_400_000,
  graceBackoff: 5_000,
  breakerThreshold: 5,
  breakerOpenFor: 1_000,
  maxValueBytes: 8 * 1024 * 1024,
} as const;

/** Module-only option names; the entry options (but `l1Ttl`, which is `l1.ttl` here) come from entry-policy.ts. */
const MODULE_OPTION_NAMES = [
  'redis',
  'keyPrefix',
  'l1',
  'serializer',
  'l2Timeout',
  'connectTimeout',
  'maxKeyLength',
  'leaseTtl',
  'lockWaitTimeout',
  'onLockTimeout',
  'bus',
  'tracking',
  'tagTtl',
  'breaker',
  'keyContext',
  'maxValueBytes',
  'isGlobal',
] as const;
const KNOWN = new Set<string>([...MODULE_OPTION_NAMES, ...ENTRY_OPTION_NAMES.filter((n) => n !== 'l1Ttl')]);
const KNOWN_L1 = new Set(['max', 'ttl', 'maxSize', 'sizeCalculation']);

// Every module option has a name in the lists above, and every listed name is a module option.
type ModuleOptionName = (typeof MODULE_OPTION_NAMES)[number] | Exclude<EntryOptionName, 'l1Ttl'>;
const _everyOptionListed: Record<
  Exclude<keyof TieredCacheModuleOptions, ModuleOptionName> | Exclude<ModuleOptionName, keyof TieredCacheModuleOptions | 'isGlobal'>,
  never
> = {};
void _everyOptionListed;

/**
 * Validates module options and fills defaults; throws `TieredCacheConfigError` naming the fix.
 * `otherSharedTier`: a shared tier other than Redis is given (Keyv stores), so `redis: false`
 * does not make L1 the only tier.
 */
export function resolveOptions(options: TieredCacheModuleOptions | undefined, otherSharedTier = false): ResolvedOptions {
  const o = (options ?? {}) as Record<string, unknown>;
  if (typeof o !== 'object') fail('options', 'pass an object to TieredCacheModule.forRoot({ ... })');
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) fail(k, `unknown option; the options are ${[...KNOWN].join(', ')}`);
  }
  const redis = resolveRedis(o.redis);
  const keyPrefix = o.keyPrefix ?? DEFAULTS.keyPrefix;
  if (typeof keyPrefix !== 'string') fail('keyPrefix', "give a string such as 'shop:'");
  const l1Only = redis === false && !otherSharedTier;
  const l1 = resolveL1(o.l1, l1Only);
  const ttl = duration(o, 'ttl', DEFAULTS.ttl, false);
  return {
    redis: redis as ResolvedOptions['redis'],
    keyPrefix,
    entry: defaultPolicy({
      ttl,
      // Without Redis, L1 is the only tier and keeps entries for their whole life.
      l1Ttl: l1Only ? Infinity : l1 ? l1.ttl : DEFAULTS.l1Ttl,
      nullTtl: Math.min(duration(o, 'nullTtl', DEFAULTS.nullTtl, true), ttl),
      lock: flag(o, 'lock', true),
      grace: duration(o, 'grace', 0, true),
      graceBackoff: duration(o, 'graceBackoff', DEFAULTS.graceBackoff, true),
      softTimeout: duration(o, 'softTimeout', 0, true),
      hardTimeout: duration(o, 'hardTimeout', 0, true),
      earlyRefresh: beta(o, 'earlyRefresh', 1),
      jitter: fraction(o, 'jitter', 0),
    }),
    l1,
    serializer: resolveSerializer(o.serializer),
    l2Timeout: duration(o, 'l2Timeout', DEFAULTS.l2Timeout, false),
    connectTimeout: duration(o, 'connectTimeout', DEFAULTS.connectTimeout, true),
    maxKeyLength: duration(o, 'maxKeyLength', DEFAULTS.maxKeyLength, false),
    leaseTtl: duration(o, 'leaseTtl', DEFAULTS.leaseTtl, false),
    lockWaitTimeout: duration(o, 'lockWaitTimeout', DEFAULTS.lockWaitTimeout, true),
    onLockTimeout: oneOf(o, 'onLockTimeout', ['load', 'error'] as const),
    bus: flag(o, 'bus', true),
    tracking: flag(o, 'tracking', true),
    tagTtl: duration(o, 'tagTtl', DEFAULTS.tagTtl, false),
    breaker: resolveBreaker(o.breaker),
    keyContext: resolveKeyContext(o.keyContext),
    maxValueBytes: resolveMaxValueBytes(o.maxValueBytes),
  };
}

function resolveKeyContext(v: unknown): ResolvedOptions['keyContext'] {
  if (v === undefined) return undefined;
  if (typeof v !== 'function') fail('keyContext', 'give a function returning the current tenant (a string) or undefined');
  return v as () => string | undefined;
}

function resolveMaxValueBytes(v: unknown): number {
  if (v === undefined) return DEFAULTS.maxValueBytes;
  if (!Number.isSafeInteger(v) || (v as number) < 1)
    fail('maxValueBytes', `give a whole number of bytes >= 1, e.g. ${DEFAULTS.maxValueBytes} (8 MiB); got ${String(v)}`);
  return v as number;
}

function resolveBreaker(v: unknown): ResolvedOptions['breaker'] {
  if (v === false) return false;
  if (v !== undefined && (typeof v !== 'object' || v === null)) fail('breaker', 'give { threshold, openFor } or false');
  const o = (v ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'threshold' && k !== 'openFor') fail(`breaker.${k}`, 'unknown option; use threshold and openFor');
  const threshold = o.threshold ?? DEFAULTS.breakerThreshold;
  if (!Number.isInteger(threshold) || (threshold as number) < 1) fail('breaker.threshold', 'give a whole number of failures >= 1');
  return { threshold: threshold as number, openFor: duration(o, 'openFor', DEFAULTS.breakerOpenFor, false, '', 'breaker.') };
}

/**
 * Checks the `redis` option: a URL, ioredis options (Sentinel included), `{ cluster, options }`,
 * a client instance, or false. Catches the usual slips of a Cluster or Sentinel set-up.
 */
function resolveRedis(v: unknown): ResolvedOptions['redis'] {
  const redis = v ?? false;
  if (!(redis === false || typeof redis === 'string' || (typeof redis === 'object' && redis !== null))) {
    fail('redis', 'give a URL string, ioredis options, { cluster: [...nodes] }, an ioredis Redis/Cluster instance, or false');
  }
  if (typeof redis === 'string' && !/^rediss?:\/\//.test(redis)) {
    fail('redis', `"${redact(redis)}" is not a Redis URL; use e.g. 'redis://127.0.0.1:6379'`);
  }
  if (typeof redis !== 'object' || isRedisInstance(redis)) return redis as ResolvedOptions['redis'];
  if (Array.isArray(redis)) {
    fail('redis', 'a list of nodes is a Cluster: give { cluster: [{ host, port }, ...] }');
  }
  const r = redis as Record<string, unknown>;
  if ('cluster' in r) {
    for (const k of Object.keys(r)) {
      if (k !== 'cluster' && k !== 'options') {
        fail(`redis.${k}`, 'unknown option of a Cluster; give { cluster: [...nodes], options?: ClusterOptions } (node settings go in options.redisOptions)');
      }
    }
    if (!Array.isArray(r.cluster) || r.cluster.length === 0) {
      fail('redis.cluster', "give the startup nodes, e.g. [{ host: '127.0.0.1', port: 7000 }]");
    }
    r.cluster.forEach((n, i) => {
      clusterNode(n, `redis.cluster[${i}]`);
    });
    if (r.options !== undefined && (typeof r.options !== 'object' || r.options === null || Array.isArray(r.options))) {
      fail('redis.options', 'give ioredis ClusterOptions, e.g. { redisOptions: { password } }');
    }
    return redis as ResolvedOptions['redis'];
  }
  if (r.sentinels !== undefined) {
    if (!Array.isArray(r.sentinels) || r.sentinels.length === 0) {
      fail('redis.sentinels', "give the sentinels, e.g. [{ host: '127.0.0.1', port: 26379 }]");
    }
    if (typeof r.name !== 'string' || r.name === '') {
      fail('redis.name', "give the name of the primary the sentinels monitor, e.g. 'mymaster'");
    }
  }
  return redis as ResolvedOptions['redis'];
}

function clusterNode(n: unknown, path: string): void {
  if (typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 65_536) return;
  if (typeof n === 'string' && n !== '') return;
  if (typeof n === 'object' && n !== null) {
    const { host, port } = n as Record<string, unknown>;
    const portOk = port === undefined || (typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65_536);
    if (portOk && (host === undefined || (typeof host === 'string' && host !== ''))) return;
  }
  fail(path, "give { host, port }, a port number or 'host:port'");
}

function oneOf<const T extends readonly string[]>(o: Record<string, unknown>, name: string, values: T): T[number] {
  const v = o[name] ?? values[0];
  if (!values.includes(v as string)) fail(name, `give one of ${values.map((x) => `'${x}'`).join(', ')}`);
  return v as T[number];
}

function resolveL1(l1: unknown, noRedis: boolean): ResolvedOptions['l1'] {
  if (l1 === false) {
    if (noRedis) fail('l1', 'with redis: false, L1 is the only tier: keep it, or configure redis');
    return false;
  }
  if (l1 !== undefined && (typeof l1 !== 'object' || l1 === null)) {
    fail('l1', 'give { max, ttl, maxSize? } or false');
  }
  const o = (l1 ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN_L1.has(k)) fail(`l1.${k}`, `unknown option; the L1 options are ${[...KNOWN_L1].join(', ')}`);
  }
  const max = o.max ?? DEFAULTS.l1Max;
  if (!Number.isInteger(max) || (max as number) < 1) fail('l1.max', 'give a whole number of entries >= 1');
  const ttl = duration(o, 'ttl', DEFAULTS.l1Ttl, false, '', 'l1.');
  if (o.maxSize !== undefined && (!Number.isInteger(o.maxSize) || (o.maxSize as number) < 1)) {
    fail('l1.maxSize', 'give a whole number of bytes >= 1, or leave it out');
  }
  if (o.sizeCalculation !== undefined && typeof o.sizeCalculation !== 'function') {
    fail('l1.sizeCalculation', 'give a function (value, key) => bytes');
  }
  return {
    max: max as number,
    ttl,
    maxSize: o.maxSize as number | undefined,
    sizeCalculation: o.sizeCalculation as L1Options['sizeCalculation'],
  };
}

function resolveSerializer(s: unknown): SerializerOption {
  if (s === undefined || s === 'json' || s === 'msgpack') return s ?? 'json';
  if (typeof s === 'object' && s !== null) {
    const c = s as Record<string, unknown>;
    if (typeof c.serialize === 'function' && typeof c.deserialize === 'function') return s as SerializerOption;
  }
  return fail('serializer', "use 'json', 'msgpack' or an object { serialize(value), deserialize(buffer) }");
}
