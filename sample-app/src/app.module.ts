import { Module, type DynamicModule } from '@nestjs/common';
import { TieredCacheModule } from 'nestjs-tiered-cache';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ProductsModule } from './products/products.module.js';
import type { SampleAppConfig } from './sample-app.config.js';

@Module({})
export class AppModule {
  static forRoot(config: SampleAppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        TieredCacheModule.forRoot({
          redis: config.redisUrl,
          keyPrefix: config.keyPrefix,
          ttl: 60_000,
          // A short L1 TTL (5 s unless L1_TTL_MS says otherwise): if an invalidation cannot reach
          // an instance, it is how long that instance may keep serving a value changed elsewhere.
          l1: { max: 10_000, ttl: config.l1TtlMs ?? 5_000 },
        }),
        ProductsModule.register({ latencyMs: config.dbLatencyMs, file: config.dbFile }),
        HealthModule,
        MetricsModule,
      ],
    };
  }
}
