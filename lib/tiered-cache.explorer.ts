import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService } from '@nestjs/core';
import { CACHE_OPERATION_METADATA, CACHE_SLOT } from './tiered-cache.constants.js';
import { TieredCacheService } from './tiered-cache.service.js';

/**
 * Fills the cache slot of decorated instances that Nest did not construct itself (`useValue`,
 * `useFactory`), so their methods are cached like any class provider's, and empties those slots
 * when the app shuts down (a `useValue` object reused by the next app must use the next cache).
 */
@Injectable()
export class TieredCacheExplorer implements OnModuleInit, OnApplicationShutdown {
  readonly #logger = new Logger('TieredCache');
  readonly #filled: Record<symbol, unknown>[] = [];

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
      const current = instance[CACHE_SLOT];
      if (current === undefined) {
        Object.defineProperty(instance, CACHE_SLOT, { value: this.cache, writable: true, configurable: true });
        this.#filled.push(instance);
      } else if (current !== this.cache && current instanceof TieredCacheService) {
        this.#logger.warn(`${String(wrapper.name)}: this object is a provider of two running apps; its methods use the first app's cache.`);
      }
    }
  }

  onApplicationShutdown(): void {
    for (const instance of this.#filled.splice(0)) {
      if (instance[CACHE_SLOT] === this.cache) delete instance[CACHE_SLOT];
    }
  }
}
