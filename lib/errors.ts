/** Thrown at bootstrap (or decoration) when options are invalid. The message names the fix. */
export class TieredCacheConfigError extends Error {
  override readonly name = 'TieredCacheConfigError';
}

/**
 * Thrown (with `onLockTimeout: 'error'`) when another instance held a key's lease for longer than
 * `lockWaitTimeout`.
 */
export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly key: string,
    readonly waitedMs: number,
  ) {
    super(`nestjs-tiered-cache: waited ${waitedMs} ms for another instance to load "${key}"`);
  }
}
