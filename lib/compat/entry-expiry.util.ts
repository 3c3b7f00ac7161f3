import { FAILED } from '../l2/redis-tier.js';
import { ENGINE } from '../tiered-cache.constants.js';
import type { TieredCacheService } from '../tiered-cache.service.js';

/** A value read with its logical expiry (epoch milliseconds). */
export interface ReadEntry {
  value: unknown;
  expiresAt: number;
}

/**
 * Reads a key with its expiry, for `ttl()` and `wrap()`'s `refreshThreshold`.
 *
 * A stopgap until `TieredCacheService` tells an entry's expiry itself: the value comes from the
 * public read path (both tiers, tombstones and tags checked, L1 back-filled); the expiry from the
 * L1 copy that read leaves behind, else from a second read of the Redis envelope. A cached
 * `undefined` reads as a miss, as in cache-manager.
 */
export async function readWithExpiry(service: TieredCacheService, key: string): Promise<ReadEntry | undefined> {
  const value = await service.get(key);
  if (value === undefined) return undefined;
  const engine = service[ENGINE];
  // The key as stored (with `keyContext`, the tenant's).
  const stored = engine.scope(key);
  const local = engine.l1?.get(stored);
  if (local !== undefined) return { value, expiresAt: local.expiresAt };
  if (engine.l2 === undefined) return undefined;
  const e = await engine.l2.get(engine.redisKey(stored));
  return e === FAILED || e === undefined ? undefined : { value, expiresAt: e.expiresAt };
}
