import { TieredCacheError } from '../errors.js';

/** Thrown to a caller when a load without a stale value outlasts `hardTimeout`. */
export class LoaderTimeoutError extends TieredCacheError {
  override readonly name = 'LoaderTimeoutError';
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
  ) {
    super(
      `nestjs-tiered-cache: the loader of "${key}" took longer than hardTimeout (${timeoutMs} ms); it goes on in the background and its result will be cached if it succeeds`,
    );
  }
}

const TIMED_OUT: unique symbol = Symbol('timed-out');

/** Resolves with `work`'s outcome, or with TIMED_OUT after `ms` (0: never). `work` is not stopped. */
export function raceTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  if (ms <= 0) return work;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(TIMED_OUT), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

export { TIMED_OUT };
