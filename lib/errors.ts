/**
 * Base of the errors the cache itself raises, so `instanceof TieredCacheError` tells them from a
 * loader's own errors, which always reach the caller untouched.
 */
export class TieredCacheError extends Error {}

/** Thrown at bootstrap (or decoration) when options are invalid. The message names the fix. */
export class TieredCacheConfigError extends TieredCacheError {
  override readonly name = 'TieredCacheConfigError';
}

/**
 * Thrown (with `onLockTimeout: 'error'`) when another instance held a key's lease for longer than
 * `lockWaitTimeout`.
 */
export class LockTimeoutError extends TieredCacheError {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super(`nestjs-tiered-cache: waited ${waitedMs} ms for another instance to load "${key}"`);
  }
}
