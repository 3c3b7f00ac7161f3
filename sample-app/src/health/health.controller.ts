import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { TieredCacheHealthIndicator } from 'nestjs-tiered-cache/terminus';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly cache: TieredCacheHealthIndicator,
  ) {}

  /**
   * 200 while the app serves. With Redis down the app still answers every request (from L1 and
   * the database), so the check says `"status": "degraded"` and stays 200: a load balancer keeps
   * the instance, and does not take every instance out at once when the shared Redis drops.
   */
  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.cache.isHealthy('cache')]);
  }

  /** 503 whenever Redis is unreachable: for alerting and dashboards, not for load balancer probes. */
  @Get('strict')
  @HealthCheck()
  strict() {
    return this.health.check([() => this.cache.isHealthy('cache', { requireRedis: true })]);
  }
}
