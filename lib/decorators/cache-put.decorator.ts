import type { CachePutOptions } from '../interfaces/cache-operation-options.interface.js';
import { TieredCacheConfigError } from '../errors.js';
import { runCachePut } from './cache-operation.js';
import { installStub } from './install-stub.util.js';

/**
 * Always runs the method, then stores its result under the key (both tiers), replacing what was
 * cached. A load of the same key already in flight does not overwrite it.
 *
 * @example
 * ```ts
 * @CachePut({ key: (id: number) => `product:${id}` })
 * async refresh(id: number): Promise<Product> { ... }
 * ```
 * @publicApi
 */
export function CachePut<A extends any[] = any[], R = any>(options: CachePutOptions<A, R>) {
  return <T extends (...args: [...A, ...any[]]) => Promise<R>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> => {
    if (!options.key) {
      throw new TieredCacheConfigError(
        `nestjs-tiered-cache: @CachePut() on ${target.constructor.name}.${String(propertyKey)} needs a key ` +
          `function: the key the matching @Cacheable or service call reads.`,
      );
    }
    return installStub(
      '@CachePut()',
      target,
      propertyKey,
      descriptor,
      (namespace, method, label) => ({
        kind: 'put',
        label,
        namespace,
        method,
        key: options.key,
        tags: options.tags,
        condition: options.condition,
        unless: options.unless,
        options,
        allEntries: false,
        beforeInvocation: false,
      }),
      runCachePut,
    ) as TypedPropertyDescriptor<T>;
  };
}
