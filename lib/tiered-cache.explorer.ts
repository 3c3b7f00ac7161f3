import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CACHE_OPERATION_METADATA, CACHE_SLOT } from './tiered-cache.constants.js';
import { TieredCacheService } from './tiered-cache.service.js';

/**
 * Fills the cache slot of decorated instances that Nest did not construct itself (`useValue`,
 * `useFactory`), so their methods are cached like any class provider's.
 */
@Injectable()
export class TieredCacheExplorer implements OnModuleInit {
  readonly #logger = new Logger('TieredCache');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly cache: TieredCacheService,
  ) {}

  onModuleInit(): void {
    for (const wrapper of [...this.discovery.getProviders(), ...this.discovery.getControllers()]) {
      if (wrapper.isAlias) continue;
      const instance = wrapper.instance as Record<symbol, unknown> | undefined;
      if (instance === null || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance);
      if (proto === null || !Reflect.getMetadata(CACHE_OPERATION_METADATA, proto)) continue;
      // Request-scoped and transient instances are built per context by Nest, which injects the
      // slot into each of them; the placeholder seen here is not one of them.
      if (!wrapper.isDependencyTreeStatic()) continue;
      if (instance[CACHE_SLOT] === undefined) {
        Object.defineProperty(instance, CACHE_SLOT, { value: this.cache, writable: true, configurable: true });
      } else if (!(instance[CACHE_SLOT] instanceof TieredCacheService)) {
        this.#logger.warn(`${wrapper.name as string}: its cache slot holds something else; its methods run uncached.`);
      }
    }
  }
}
