import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { TieredCacheModuleOptions } from './interfaces/tiered-cache-options.interface.js';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: TIERED_CACHE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<TieredCacheModuleOptions>({ moduleName: 'TieredCache' })
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
