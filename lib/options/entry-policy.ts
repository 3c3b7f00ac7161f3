import { beta, duration, fail, flag, fraction } from './option-checks.js';

/**
 * The options every entry takes — at module level (as defaults), per service call and per
 * decorator. This tuple is the one list of their names: the per-call and per-decorator option
 * types are derived from it, the merge below walks it, and the check under it makes a name
 * missing from the merge a compile error.
 */
export const ENTRY_OPTION_NAMES = [
  'ttl',
  'l1Ttl',
  'nullTtl',
  'lock',
  'grace',
  'graceBackoff',
  'softTimeout',
  'hardTimeout',
  'earlyRefresh',
  'jitter',
] as const;

export type EntryOptionName = (typeof ENTRY_OPTION_NAMES)[number];

/** Options of one entry. Durations in milliseconds; each defaults to the module's option. */
export interface EntryOptions {
  /** Time to live in Redis (and in L1 when there is no Redis). Default: the module's `ttl`. */
  ttl?: number;
  /** Longest time in L1 (never past the entry's own expiry). Default: the module's `l1.ttl`. */
  l1Ttl?: number;
  /** Time to live of a `null`/`undefined` value; `0` does not cache such values. Default: the module's `nullTtl`. */
  nullTtl?: number;
  /** Take the fleet-wide lease on a miss. Default: the module's `lock`. */
  lock?: boolean;
  /** Grace period after `ttl` (stale-while-revalidate and fail-safe). Default: the module's `grace`. */
  grace?: number;
  /** Wait before retrying a failed refresh in the grace period. Default: the module's `graceBackoff`. */
  graceBackoff?: number;
  /** With a stale value: wait this long for the refresh before serving it. Default: the module's `softTimeout`. */
  softTimeout?: number;
  /** Without a stale value: longest wait for the value before `LoaderTimeoutError`. Default: the module's `hardTimeout`. */
  hardTimeout?: number;
  /** XFetch beta, or `false`. Default: the module's `earlyRefresh`. */
  earlyRefresh?: number | false;
  /** Shorten each TTL by a random fraction up to this (0 to 1). Default: the module's `jitter`. */
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
  if (p.jitter > 0) ttl = Math.max(1, Math.round(ttl * (1 - p.jitter * Math.random())));
  const grace = ttl > 0 ? p.grace : 0;
  if (p.tags !== undefined && ttl + grace > tagTtl) ttl = Math.max(0, tagTtl - grace);
  if (ttl <= 0) return undefined;
  return { expiresAt: now + ttl, staleUntil: now + ttl + grace };
}
