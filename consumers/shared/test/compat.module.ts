import { Inject, Injectable, Module } from '@nestjs/common';
import { type Cache, CACHE_MANAGER, CacheModule } from 'nestjs-tiered-cache/compat';

@Injectable()
export class CompatUser {
  constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}
}

/** `@nestjs/cache-manager` code with only its import changed. */
@Module({
  imports: [
    CacheModule.register({
      ttl: 60_000,
      redis: process.env.REDIS_URL,
      keyPrefix: `${process.env.CONSUMER_NAME}-compat:`,
    }),
  ],
  providers: [CompatUser],
})
export class CompatModule {}
