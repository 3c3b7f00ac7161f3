import type { CacheEvictOptions } from '../interfaces/cache-operation-options.interface.js';
import { TieredCacheConfigError } from '../errors.js';
import { runCacheEvict } from './cache-operation.js';
import { installStub } from './install-stub.util.js';

/**
 * Evicts the key (or keys) from both tiers after the method resolves; nothing is evicted if it
 * throws. With `beforeInvocation: true` eviction happens first. Once the call resolves, this
 * instance no longer serves the old value, and a load already in flight will not store it.
 *
 * @example
 * ```ts
 * @CacheEvict({ key: (id: number) => `product:${id}` })
 * async update(id: number, dto: UpdateProductDto): Promise<Product> { ... }
 * ```
 * @publicApi
 */
export function CacheEvict<A extends any[] = any[]>(options: CacheEvictOptions<A> = {}) {
  return <T extends (...args: [...A, ...any[]]) => Promise<any>>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T> => {
    if (!options.key && !options.allEntries && !options.tags) {
      throw new TieredCacheConfigError(
        `nestjs-tiered-cache: @CacheEvict() on ${target.constructor.name}.${String(propertyKey)} needs a key ` +
          `function (the key the matching @Cacheable uses), tags, or allEntries: true.`,
      );
    }
    return installStub(
      '@CacheEvict()',
      target,
      propertyKey,
      descriptor,
      (namespace, method, label) => ({
        kind: 'evict',
        label,
        namespace: options.namespace ?? namespace,
        method,
        key: options.key,
        tags: options.tags,
        condition: options.condition,
        options,
        allEntries: options.allEntries ?? false,
        beforeInvocation: options.beforeInvocation ?? false,
      }),
      runCacheEvict,
    ) as TypedPropertyDescriptor<T>;
  };
}
