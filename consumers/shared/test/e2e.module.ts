import { Controller, Get, Injectable, Module, Param, ParseIntPipe, Patch } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Cacheable, CacheEvict, TieredCacheModule, TieredCacheService } from 'nestjs-tiered-cache';
import { registerTieredCacheMetrics } from 'nestjs-tiered-cache/prometheus';
import { TieredCacheHealthIndicator } from 'nestjs-tiered-cache/terminus';
import { Registry } from 'prom-client';

export interface Item {
  id: number;
  version: number;
}

/** The "database": counts its loads so the e2e can tell a cached read from a load. */
@Injectable()
export class ItemsService {
  loads = 0;
  readonly #versions = new Map<number, number>();

  @Cacheable({ key: (id: number) => `item:${id}`, ttl: 60_000 })
  async findOne(id: number): Promise<Item> {
    this.loads++;
    return { id, version: this.#versions.get(id) ?? 1 };
  }

  @CacheEvict({ key: (id: number) => `item:${id}` })
  async bump(id: number): Promise<Item> {
    const version = (this.#versions.get(id) ?? 1) + 1;
    this.#versions.set(id, version);
    return { id, version };
  }
}

@Controller('items')
export class ItemsController {
  constructor(private readonly items: ItemsService) {}

  @Get(':id')
  findOne(@Param('id', ParseIntPipe) id: number): Promise<Item> {
    return this.items.findOne(id);
  }

  @Patch(':id')
  bump(@Param('id', ParseIntPipe) id: number): Promise<Item> {
    return this.items.bump(id);
  }
}

@Controller()
export class OpsController {
  readonly #registry = new Registry();

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: TieredCacheHealthIndicator,
    cache: TieredCacheService,
  ) {
    registerTieredCacheMetrics(cache, { registry: this.#registry });
  }

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.indicator.isHealthy('cache')]);
  }

  @Get('metrics')
  metrics(): Promise<string> {
    return this.#registry.metrics();
  }
}

@Module({
  imports: [
    TerminusModule,
    TieredCacheModule.forRoot({
      redis: process.env.REDIS_URL,
      keyPrefix: `${process.env.CONSUMER_NAME}:`,
      ttl: 60_000,
    }),
  ],
  controllers: [ItemsController, OpsController],
  providers: [ItemsService, TieredCacheHealthIndicator],
})
export class E2eModule {}
