import { beta, duration, fail, flag, fraction } from './option-checks.js';

/**
 * The options every entry takes — at module level (as defaults), per service call and per
 * decorator. This tuple is the one list of their names: the per-call and per-decorator option
 * types are derived from it, the merge below walks it, and the check under it makes a name
 * missing from the merge a compile error.
 */
export const ENTRY_OPTION_NAMES = ['ttl', 'l1Ttl', 'nullTtl', 'lock', 'grace', 'graceBackoff', 'softTimeout', 'hardTimeout', 'earlyRefresh', 'jitter'] as const;

export type EntryOptionName = (typeof ENTRY_OPTION_NAMES)[number];

/**
 * Options of one entry: module-wide defaults in `TieredCacheModule.forRoot()`, overridden per
 * service call and per decorator. Durations in milliseconds; the defaults below are the module's.
 */
export interface EntryOptions {
  /**
   * Time to live of an entry, in milliseconds.
   * @default 60_000
   */
  ttl?: number;
  /**
   * Longest time an entry stays in L1, in milliseconds (never past the entry's own expiry). Per
   * call and decorator only; module-wide it is `l1.ttl`.
   * @default the module's `l1.ttl` (10_000)
   */
  l1Ttl?: number;
  /**
   * Time to live of a cached `null`/`undefined` result (negative caching), in milliseconds,
   * never longer than the entry's `ttl`. `0` stores no null results.
   * @default 5_000
   */
  nullTtl?: number;
  /**
   * Take a Redis lease per key on a miss, so one instance in the fleet runs the loader while the
   * others wait for its result (`lock: false` per call or decorator for cheap loaders). Without
   * Redis, or while it is away, only the in-process single flight applies.
   * @default true
   */
  lock?: boolean;
  /**
   * Grace period after `ttl`, in milliseconds: a read in it gets the stale value at once
   * while one background refresh runs; if the loader fails, the stale value keeps being served
   * (fail-safe) until the grace period ends. `0`: no grace.
   * @default 0
   */
  grace?: number;
  /**
   * After a failed refresh in the grace period, the loader is not retried for this long, in
   * milliseconds (the stale value is served meanwhile).
   * @default 5_000
   */
  graceBackoff?: number;
  /**
   * With a stale value in its grace period: how long a caller waits for the refresh before it
   * gets the stale value (the load goes on in the background), in milliseconds. `0`: at once.
   * @default 0
   */
  softTimeout?: number;
  /**
   * Without a stale value: how long a caller waits for the loader before it gets a
   * `LoaderTimeoutError`, in milliseconds. The load goes on, and its result is cached if it
   * succeeds. `0`: no limit.
   * @default 0
   */
  hardTimeout?: number;
  /**
   * Probabilistic early refresh (XFetch, Vattani et al., VLDB 2015): a read near expiry starts
   * a background refresh with a probability that grows as expiry nears and with how long the
   * last load took, so a hot key is refreshed before it expires and no reader waits. The number
   * is beta (> 1 refreshes earlier); `false` turns it off.
   * @default 1
   */
  earlyRefresh?: number | false;
  /**
   * Spreads the expiry of entries written together: each TTL is shortened by a random fraction
   * of up to this much (0 to 1).
   * @default 0
   */
  jitter?: number;
}

/** The entry options, each resolved (defaults filled, validated), plus what is derived from them. */
export interface EntryPolicy {
  readonly ttl: number;
  readonly l1Ttl: number;
  readonly nullTtl: number;
  readonly lock: boolean;
  readonly grace: number;
  readonly graceBackoff: number;
  readonly softTimeout: number;
  readonly hardTimeout: number;
  readonly earlyRefresh: number | false;
  readonly jitter: number;
  /** Tags of the entry (per call or from a decorator's tags function); undefined for none. */
  readonly tags: readonly string[] | undefined;
  /** Vetoes storing a result (`@Cacheable`/`@CachePut` `unless`). */
  readonly unless: ((result: any) => boolean) | undefined;
  /**
   * The policy to store a loaded result under, when it depends on the result (the compat
   * `wrap()`'s TTL function, its `undefined` results never stored). Internal.
   */
  readonly resultPolicy: ((result: any) => EntryPolicy) | undefined;
  /**
   * Longest time a load keeps renewing its fleet lease, in milliseconds: `hardTimeout` when set,
   * else {@link MAX_LEASE_HOLD}. Past it the lease lapses and another instance may take over.
   */
  readonly leaseHold: number;
}

/**
 * How long a load renews its lease without `hardTimeout`, in milliseconds: a loader hung for
 * longer stops holding the other instances back.
 */
export const MAX_LEASE_HOLD = 60_000;

type Check = (o: Record<string, unknown>, name: string, fallback: any, where: string) => unknown;

/** How each entry option is validated. `satisfies` makes a name without a check a compile error. */
const CHECKS = {
  ttl: (o, n, f, w) => duration(o, n, f, false, w),
  l1Ttl: (o, n, f, w) => duration(o, n, f, false, w),
  nullTtl: (o, n, f, w) => duration(o, n, f, true, w),
  lock: (o, n, f, w) => flag(o, n, f, w),
  grace: (o, n, f, w) => duration(o, n, f, true, w),
  graceBackoff: (o, n, f, w) => duration(o, n, f, true, w),
  softTimeout: (o, n, f, w) => duration(o, n, f, true, w),
  hardTimeout: (o, n, f, w) => duration(o, n, f, true, w),
  earlyRefresh: (o, n, f, w) => beta(o, n, f, w),
  jitter: (o, n, f, w) => fraction(o, n, f, w),
} satisfies Record<EntryOptionName, Check>;

/** The module's entry defaults, from already validated module options. */
export function defaultPolicy(values: Omit<EntryPolicy, 'tags' | 'unless' | 'resultPolicy' | 'leaseHold'>): EntryPolicy {
  return derive({ ...values, tags: undefined, unless: undefined, resultPolicy: undefined });
}

/**
 * Validates the entry options among `options` (other keys are ignored: a decorator's `key`, a
 * call's `tags`, … are checked by their owner) and lays them over `base`. Returns `base` itself
 * when nothing overrides it. Throws `TieredCacheConfigError` naming the option and `where`.
 */
export function mergePolicy(base: EntryPolicy, options: object | undefined, where: string): EntryPolicy {
  if (options === undefined) return base;
  const o = options as Record<string, unknown>;
  let merged: Record<string, unknown> | undefined;
  for (const name of ENTRY_OPTION_NAMES) {
    if (o[name] === undefined) continue;
    const value = CHECKS[name](o, name, base[name], where);
    if (value !== base[name]) (merged ??= { ...base })[name] = value;
  }
  if (merged === undefined) return base;
  if ((merged.nullTtl as number) > (merged.ttl as number)) merged.nullTtl = merged.ttl;
  return derive(merged as unknown as EntryPolicy);
}

/** Checks the entry options of a decorator or call without defaults (decoration time). */
export function checkEntryOptions(options: object | undefined, where: string): void {
  if (options === undefined) return;
  const o = options as Record<string, unknown>;
  for (const name of ENTRY_OPTION_NAMES) if (o[name] !== undefined) CHECKS[name](o, name, undefined, where);
}

/** A policy with the tags of one call (validated: an array of non-empty strings). */
export function withTags(p: EntryPolicy, tags: unknown, where: string): EntryPolicy {
  if (tags === undefined) return p;
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t !== '')) {
    fail('tags', 'give an array of non-empty strings', where);
  }
  return tags.length === 0 ? p : { ...p, tags };
}

/** The policy of one service call: its entry options over the module's, and its tags. */
export function callPolicy(base: EntryPolicy, options: { tags?: readonly string[] } | undefined, where: string): EntryPolicy {
  if (options === undefined) return base;
  return withTags(mergePolicy(base, options, where), options.tags, where);
}

/** A policy with an `unless` veto. */
export function withUnless(p: EntryPolicy, unless: ((result: any) => boolean) | undefined): EntryPolicy {
  return unless === undefined ? p : { ...p, unless };
}

function derive(p: Omit<EntryPolicy, 'leaseHold'> & { leaseHold?: number }): EntryPolicy {
  return { ...p, leaseHold: p.hardTimeout > 0 ? p.hardTimeout : MAX_LEASE_HOLD };
}

/** When an entry written now stops being fresh and stops being served at all (epoch ms). */
export interface EntryTimes {
  /** Fresh until then. */
  expiresAt: number;
  /** Served as stale (grace period) until then; equals `expiresAt` without grace. */
  staleUntil: number;
}

/**
 * The lifetime of a value written under `p` at `now`: `nullTtl` for `null`/`undefined`, jitter,
 * grace only for entries that live at all, and tagged entries never outliving their tags'
 * invalidation markers (`tagTtl`). Undefined when the value is not to be stored.
 */
export function entryTimes(p: EntryPolicy, value: unknown, now: number, tagTtl: number): EntryTimes | undefined {
  let ttl = value === null || value === undefined ? Math.min(p.ttl, p.nullTtl) : p.ttl;
  // Only a TTL that stores something is jittered: its 1 ms floor must not store a `nullTtl: 0` result.
  if (p.jitter > 0 && ttl > 0) ttl = Math.max(1, Math.round(ttl * (1 - p.jitter * Math.random())));
  const grace = ttl > 0 ? p.grace : 0;
  if (p.tags !== undefined && ttl + grace > tagTtl) ttl = Math.max(0, tagTtl - grace);
  if (ttl <= 0) return undefined;
  return { expiresAt: now + ttl, staleUntil: now + ttl + grace };
}
