import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { CacheModuleOptions, CacheOptionsFactory } from './cache-module-options.interface.js';

/**
 * The options provider of `CacheModule` (`useValue`, `useFactory`, `useClass`, `useExisting`),
 * kept in a module of its own: both `CacheModule` and the `TieredCacheModule` it sets up import it.
 */
export const { ConfigurableModuleClass: CacheOptionsHostClass, MODULE_OPTIONS_TOKEN: CACHE_MODULE_OPTIONS } = new ConfigurableModuleBuilder<CacheModuleOptions>(
  { moduleName: 'Cache' },
)
  .setClassMethodName('register')
  .setFactoryMethodName('createCacheOptions' satisfies keyof CacheOptionsFactory)
  .build();
