import type { TieredCacheService } from '../tiered-cache.service.js';

/** A value read with its logical expiry (epoch milliseconds). */
export interface ReadEntry {
  value: unknown;
  expiresAt: number;
}

/**
 * Reads a key with its expiry, for `ttl()` and `wrap()`'s `refreshThreshold`. A cached
 * `undefined` reads as a miss, as in cache-manager.
 */
export async function readWithExpiry(service: TieredCacheService, key: string): Promise<ReadEntry | undefined> {
  const entry = await service.peek(key);
  return entry === undefined || entry.value === undefined ? undefined : { value: entry.value, expiresAt: entry.expiresAt };
}
