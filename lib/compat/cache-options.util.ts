import type { TieredCacheModuleOptions } from '../interfaces/tiered-cache-options.interface.js';
import { DEFAULTS } from '../options/resolve-options.js';
import { duration, fail } from '../options/option-checks.js';
import { KeyvSharedTier } from '../shared/keyv-shared-tier.js';
import { SHARED_TIER_FACTORY } from '../tiered-cache.constants.js';
import type { SharedTierFactory } from '../tiered-cache.module.js';
import type { CacheModuleOptions } from './cache-module-options.interface.js';
import { toKeyvStores } from './keyv-stores.util.js';

/** What "never expires" lasts by default: every Redis key needs a TTL. */
export const DEFAULT_FOREVER_TTL = 86_400_000;

/** The options the compat cache itself applies (the rest configure the tiered cache). */
export interface CompatSettings {
  /** The `ttl` option as given (what `mset()` reports for entries without one). */
  ttlOption: number | undefined;
  /** The TTL of an entry stored without one, in milliseconds. */
  defaultTtl: number;
  /** What a TTL of `0` ("never expires") becomes, in milliseconds. */
  foreverTtl: number;
  refreshThreshold: number | undefined;
  cacheId: string | undefined;
}

/** Validates the compat options; a bad one fails bootstrap with `TieredCacheConfigError`. */
export function compatSettings(options: CacheModuleOptions | undefined): CompatSettings {
  const o = (options ?? {}) as Record<string, unknown>;
  if (o.stores !== undefined && o.redis !== undefined && o.redis !== false) {
    fail('stores', 'give stores (Keyv) or redis, not both: redis adds the fleet lease and the invalidation bus, Keyv stores have neither');
  }
  const foreverTtl = duration(o, 'foreverTtl', DEFAULT_FOREVER_TTL, false);
  const ttlOption = o.ttl === undefined ? undefined : duration(o, 'ttl', 0, true);
  const refreshThreshold = o.refreshThreshold === undefined ? undefined : duration(o, 'refreshThreshold', 0, true);
  if (o.namespace !== undefined && (typeof o.namespace !== 'string' || o.namespace === '')) {
    fail('namespace', "give a non-empty string such as 'products'");
  }
  if (o.cacheId !== undefined && typeof o.cacheId !== 'string') fail('cacheId', 'give a string');
  return {
    ttlOption,
    defaultTtl: ttlOption === undefined || ttlOption === 0 ? foreverTtl : ttlOption,
    foreverTtl,
    refreshThreshold,
    cacheId: o.cacheId as string | undefined,
  };
}

/**
 * The options of the `TieredCacheModule` behind `CacheModule`: the compat-only options removed,
 * `ttl` resolved, `namespace` appended to `keyPrefix`, Keyv `stores` made its shared tier. The
 * tiered cache validates the rest.
 */
export async function toTieredCacheOptions(options: CacheModuleOptions | undefined): Promise<TieredCacheModuleOptions> {
  const settings = compatSettings(options);
  const {
    ttl: _ttl,
    namespace,
    refreshThreshold: _refreshThreshold,
    nonBlocking: _nonBlocking,
    cacheId: _cacheId,
    stores,
    foreverTtl: _foreverTtl,
    isGlobal: _isGlobal,
    ...tiered
  } = (options ?? {}) as CacheModuleOptions & Record<string, unknown>;
  const keyPrefix = (tiered.keyPrefix ?? DEFAULTS.keyPrefix) + (namespace ? `${namespace}:` : '');
  const result: TieredCacheModuleOptions & { [SHARED_TIER_FACTORY]?: SharedTierFactory } = { ...tiered, keyPrefix, ttl: settings.defaultTtl };
  if (stores !== undefined) {
    const keyv = await toKeyvStores(stores, namespace);
    result[SHARED_TIER_FACTORY] = (resolved, binary, stats) => new KeyvSharedTier(keyv, binary, resolved.l2Timeout, stats, resolved.breaker);
  }
  return result;
}
