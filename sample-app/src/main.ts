import { Logger } from '@nestjs/common';
import { TieredCacheService } from 'nestjs-tiered-cache';
import { createSampleApp } from './create-sample-app.js';
import { listen } from './listen.js';
import { configFromEnv, withoutCredentials } from './sample-app.config.js';

const config = configFromEnv();
const app = await createSampleApp(config);
app.enableShutdownHooks();
const logger = new Logger('SampleApp');
try {
  await listen(app, config);
} catch (err) {
  logger.error(err instanceof Error ? err.message : String(err));
  await app.close();
  process.exit(1);
}

logger.log(`Listening on ${await app.getUrl()} (${config.adapter}); database: ${config.dbFile ?? 'in memory'}, ${config.dbLatencyMs} ms per query`);
const { degraded } = app.get(TieredCacheService).stats();
if (degraded) {
  logger.warn(`Redis at ${withoutCredentials(config.redisUrl)} is not reachable: caching in L1 only, and reconnecting in the background`);
} else {
  logger.log(`Cache: L1 (${(config.l1TtlMs ?? 5_000) / 1000} s) + Redis at ${withoutCredentials(config.redisUrl)} (60 s)`);
}
