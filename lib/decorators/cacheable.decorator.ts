import type { CacheableOptions } from '../interfaces/cache-operation-options.interface.js';
import { runCacheable } from './cache-operation.js';
import { installStub } from './install-stub.util.js';

/**
 * Caches the method's result: L1, then Redis, then the method itself (run once per key at a time
 * however many callers ask). `0`, `false`, `''` and `[]` are cached values; `null`/`undefined`
 * are cached for `nullTtl`. Errors are never cached. The method must be async.
 *
 * @example
 * ```ts
 * @Cacheable({ key: (id: number) => `product:${id}`, ttl: 60_000 })
 * async findOne(id: number): Promise<Product | null> { ... }
 * ```
 * @publicApi
 */
export function Cacheable<A extends any[] = any[], R = any>(options: CacheableOptions<A, R> = {}) {
  return <T extends (...args: [...A, ...any[]]) => Promise<R>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> =>
    installStub(
      '@Cacheable()',
      target,
      propertyKey,
      descriptor,
      (namespace, method, label) => ({
        kind: 'cacheable',
        label,
        namespace: options.namespace ?? namespace,
        method,
        key: options.key,
        tags: options.tags,
        condition: options.condition,
        unless: options.unless,
        options,
        allEntries: false,
        beforeInvocation: false,
      }),
      runCacheable,
    ) as TypedPropertyDescriptor<T>;
}
