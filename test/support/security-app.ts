import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { TieredCacheModule, TieredCacheService, type TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
import { TieredCacheHealthIndicator } from 'nestjs-tiered-cache/terminus';
import { Registry } from 'prom-client';
import { uniquePrefix } from './app.js';
import { LogCapture } from './log-capture.js';

/** An app with the cache, its health indicator and its metrics, whose log lines are kept. */
export interface ObservedApp {
  app: INestApplicationContext;
  cache: TieredCacheService;
  health: TieredCacheHealthIndicator;
  logs: LogCapture;
  /** The Prometheus exposition text of the cache's metrics. */
  metrics(): Promise<string>;
  /** Everything the app says about itself: its log lines, stats(), health payload and metrics. */
  everythingReported(): Promise<string>;
}

/**
 * Boots an app (health indicator and metrics included) with every log line captured from the
 * start, so bootstrap messages can be read. Close `app` after the test.
 */
export async function observedApp(options: TieredCacheModuleOptions, logs = new LogCapture()): Promise<ObservedApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [TerminusModule.forRoot({ logger: false }), TieredCacheModule.forRoot({ keyPrefix: uniquePrefix('sec'), ...options })],
    providers: [TieredCacheHealthIndicator],
  })
    .setLogger(logs)
    .compile();
  const app = await moduleRef.init();
  const cache = app.get(TieredCacheService);
  const health = app.get(TieredCacheHealthIndicator);
  const registry = new Registry();
  registerTieredCacheMetrics(cache, { registry });
  const metrics = () => registry.metrics();
  return {
    app,
    cache,
    health,
    logs,
    metrics,
    async everythingReported() {
      const [healthy, strict, text] = await Promise.all([health.isHealthy(), health.isHealthy('cache', { requireRedis: true }), metrics()]);
      return [logs.text, JSON.stringify(cache.stats()), JSON.stringify(healthy), JSON.stringify(strict), text].join('\n');
    },
  };
}
