import { Global, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { TieredCacheService } from 'nestjs-tiered-cache';
import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
import { Registry } from 'prom-client';
import { MetricsController } from './metrics.controller.js';

/** Adds the cache's metrics to the app's registry once the cache exists. */
@Injectable()
class CacheMetrics implements OnModuleInit {
  constructor(
    private readonly registry: Registry,
    private readonly cache: TieredCacheService,
  ) {}

  onModuleInit(): void {
    registerTieredCacheMetrics(this.cache, { registry: this.registry });
  }
}

/**
 * The app's Prometheus registry and `GET /metrics`. One registry per app, not prom-client's global
 * one, so that two apps in one process (the e2e tests) do not collide.
 */
@Global()
@Module({
  controllers: [MetricsController],
  providers: [{ provide: Registry, useFactory: () => new Registry() }, CacheMetrics],
  exports: [Registry],
})
export class MetricsModule {}
