import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { TieredCacheHealthIndicator } from 'nestjs-tiered-cache/terminus';
import { HealthController } from './health.controller.js';

@Module({
  imports: [TerminusModule.forRoot()],
  controllers: [HealthController],
  providers: [TieredCacheHealthIndicator],
})
export class HealthModule {}
