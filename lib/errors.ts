/** Thrown at bootstrap (or decoration) when options are invalid. The message names the fix. */
export class TieredCacheConfigError extends Error {
  override readonly name = 'TieredCacheConfigError';
}
