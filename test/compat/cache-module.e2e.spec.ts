import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Cacheable, TieredCacheConfigError, TieredCacheService } from 'nestjs-tiered-cache';
import { CACHE_MANAGER, CACHE_MODULE_OPTIONS, Cache, CacheModule, type CacheModuleOptions, type CacheOptionsFactory } from 'nestjs-tiered-cache/compat';
import { describe, expect, it } from 'vitest';
import { rawClient } from '../support/redis-server.js';
import { withoutVersions } from '../support/topology.js';
import { redisSuite } from '../support/redis-suite.js';
import { ADAPTERS, type AdapterName, compatPrefix, listen } from './compat-app.js';

/** Injects the cache both ways `@nestjs/cache-manager` documents. */
@Injectable()
class Consumers {
  constructor(
    @Inject('CACHE_MANAGER') readonly byToken: Cache,
    readonly byClass: Cache,
  ) {}
}

/** A configuration source, as ConfigService would be. */
@Injectable()
class AppConfig {
  static values: { redisUrl: string; keyPrefix: string; ttl: number };
  readonly redisUrl = AppConfig.values.redisUrl;
  readonly keyPrefix = AppConfig.values.keyPrefix;
  readonly ttl = AppConfig.values.ttl;
}

@Module({ providers: [AppConfig], exports: [AppConfig] })
class ConfigModule {}

/** An extra provider the options class depends on. */
@Injectable()
class TtlPolicy {
  readonly ttl = 4_321;
}

@Injectable()
class CacheConfigService implements CacheOptionsFactory {
  constructor(
    private readonly config: AppConfig,
    private readonly policy: TtlPolicy,
  ) {}

  createCacheOptions(): CacheModuleOptions {
    return { ttl: this.policy.ttl, redis: this.config.redisUrl, keyPrefix: this.config.keyPrefix };
  }
}

@Injectable()
class ExistingOptions implements CacheOptionsFactory {
  constructor(private readonly config: AppConfig) {}

  createCacheOptions(): CacheModuleOptions {
    return { ttl: 9_876, redis: this.config.redisUrl, keyPrefix: this.config.keyPrefix };
  }
}

@Module({ imports: [ConfigModule], providers: [ExistingOptions], exports: [ExistingOptions] })
class ExistingOptionsModule {}

describe.each<AdapterName>(ADAPTERS)('CacheModule on %s', (adapter) => {
  const suite = redisSuite();

  async function start(...args: Parameters<typeof listen>[1][]) {
    const r = await listen(adapter, args[0]!);
    suite.closeAfter(r.app);
    return r;
  }

  /** The expiry `set()` without a TTL gives, relative to the call. */
  async function defaultTtlOf(cache: Cache): Promise<{ min: number; max: number }> {
    const before = Date.now();
    await cache.set('probe', 1);
    const after = Date.now();
    const expires = (await cache.ttl('probe'))!;
    return { min: expires - after, max: expires - before };
  }

  function configure(keyPrefix = compatPrefix(adapter), ttl = 1_234) {
    AppConfig.values = { redisUrl: suite.redis.url, keyPrefix, ttl };
  }

  it("injects one cache by the 'CACHE_MANAGER' string token and by the Cache class", async () => {
    const { app } = await start({
      imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
      providers: [Consumers],
    });
    const consumers = app.get(Consumers);

    expect(consumers.byToken).toBe(consumers.byClass);
    expect(consumers.byToken).toBe(app.get(CACHE_MANAGER));
    expect(consumers.byClass).toBe(app.get(Cache));
  });

  it('shares its entries with TieredCacheService', async () => {
    const { app } = await start({
      imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
    });
    const cache = app.get<Cache>(CACHE_MANAGER);
    const tiered = app.get(TieredCacheService);

    await cache.set('product:7', { id: 7 });
    await tiered.set('product:8', { id: 8 });

    expect(await tiered.get('product:7')).toEqual({ id: 7 });
    expect(await cache.get('product:8')).toEqual({ id: 8 });
  });

  it('caches @Cacheable service methods in the same entries', async () => {
    @Injectable()
    class Catalog {
      loads = 0;

      @Cacheable({ key: (id: number) => `product:${id}` })
      async findOne(id: number): Promise<{ id: number }> {
        this.loads++;
        return { id };
      }
    }
    const { app } = await start({
      imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
      providers: [Catalog],
    });
    const catalog = app.get(Catalog);

    await catalog.findOne(3);
    await catalog.findOne(3);

    expect(catalog.loads).toBe(1);
    expect(await app.get<Cache>(CACHE_MANAGER).get('product:3')).toEqual({ id: 3 });
  });

  it('exposes the options as given under CACHE_MODULE_OPTIONS', async () => {
    const options = { ttl: 2_000, redis: suite.redis.url, keyPrefix: compatPrefix(adapter) };
    const { app } = await start({ imports: [CacheModule.register(options)] });

    expect(app.get(CACHE_MODULE_OPTIONS)).toEqual(options);
  });

  it('is injectable in modules that do not import it when isGlobal is true', async () => {
    @Module({ providers: [Consumers] })
    class FeatureModule {}

    const { app } = await start({
      imports: [CacheModule.register({ isGlobal: true, redis: suite.redis.url, keyPrefix: compatPrefix(adapter) }), FeatureModule],
    });

    expect(app.get(Consumers).byToken).toBe(app.get(CACHE_MANAGER));
  });

  it('is not injectable in modules that do not import it by default', async () => {
    @Module({ providers: [Consumers] })
    class FeatureModule {}

    await expect(
      Test.createTestingModule({
        imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) }), FeatureModule],
      }).compile(),
    ).rejects.toThrow(/CACHE_MANAGER/);
  });

  it('gives each feature module that registers it a cache of its own', async () => {
    @Module({ imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })], providers: [Consumers], exports: [Consumers] })
    class FeatureA {}
    @Module({ imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })], providers: [Consumers], exports: [Consumers] })
    class FeatureB {}

    const { app } = await start({ imports: [FeatureA, FeatureB] });
    const a = app.select(FeatureA).get(Consumers, { strict: true }).byToken;
    const b = app.select(FeatureB).get(Consumers, { strict: true }).byToken;
    await a.set('k', 'a');

    expect(a).not.toBe(b);
    expect(await b.get('k')).toBeUndefined();
  });

  it('registerAsync() takes the options from a factory with imports and inject', async () => {
    configure(compatPrefix(adapter), 3_210);
    const { app } = await start({
      imports: [
        CacheModule.registerAsync({
          imports: [ConfigModule],
          inject: [AppConfig],
          useFactory: async (config: AppConfig) => ({ ttl: config.ttl, redis: config.redisUrl, keyPrefix: config.keyPrefix }),
        }),
      ],
    });

    const ttl = await defaultTtlOf(app.get(CACHE_MANAGER));
    expect(ttl.min).toBeLessThanOrEqual(3_210);
    expect(ttl.max).toBeGreaterThanOrEqual(3_210);
    expect(app.get(TieredCacheService).stats().l2.connected).toBe(true);
  });

  it('registerAsync() runs the options factory once', async () => {
    configure();
    let calls = 0;
    await start({
      imports: [
        CacheModule.registerAsync({
          imports: [ConfigModule],
          inject: [AppConfig],
          useFactory: (config: AppConfig) => {
            calls++;
            return { redis: config.redisUrl, keyPrefix: config.keyPrefix };
          },
        }),
      ],
    });

    expect(calls).toBe(1);
  });

  it('registerAsync() takes the options from a CacheOptionsFactory class (useClass) with extraProviders', async () => {
    configure();
    const { app } = await start({
      imports: [CacheModule.registerAsync({ imports: [ConfigModule], useClass: CacheConfigService, extraProviders: [TtlPolicy] })],
    });

    const ttl = await defaultTtlOf(app.get(CACHE_MANAGER));
    expect(ttl.min).toBeLessThanOrEqual(4_321);
    expect(ttl.max).toBeGreaterThanOrEqual(4_321);
  });

  it('registerAsync() takes the options from an existing provider (useExisting)', async () => {
    configure();
    const { app } = await start({
      imports: [CacheModule.registerAsync({ imports: [ExistingOptionsModule], useExisting: ExistingOptions })],
    });

    const ttl = await defaultTtlOf(app.get(CACHE_MANAGER));
    expect(ttl.min).toBeLessThanOrEqual(9_876);
    expect(ttl.max).toBeGreaterThanOrEqual(9_876);
  });

  it('registerAsync() with isGlobal is injectable everywhere', async () => {
    configure();
    @Module({ providers: [Consumers] })
    class FeatureModule {}

    const { app } = await start({
      imports: [
        CacheModule.registerAsync({
          isGlobal: true,
          imports: [ConfigModule],
          inject: [AppConfig],
          useFactory: (config: AppConfig) => ({ redis: config.redisUrl, keyPrefix: config.keyPrefix }),
        }),
        FeatureModule,
      ],
    });

    expect(app.get(Consumers).byClass).toBe(app.get(CACHE_MANAGER));
  });

  it('runs in process alone without redis, as the default in-memory store did', async () => {
    const { app } = await start({ imports: [CacheModule.register()] });
    const cache = app.get<Cache>(CACHE_MANAGER);

    await cache.set('k', 'v', 1_000);

    expect(await cache.get('k')).toBe('v');
    expect(app.get(TieredCacheService).stats().l2.enabled).toBe(false);
  });

  it("stores entries under keyPrefix + namespace, apart from another namespace's", async () => {
    const keyPrefix = compatPrefix(adapter);
    const products = await start({ imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix, namespace: 'products' })] });
    const orders = await start({ imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix, namespace: 'orders' })] });
    const raw = rawClient(suite.redis);
    try {
      await products.app.get<Cache>(CACHE_MANAGER).set('1', 'grinder');

      expect(await orders.app.get<Cache>(CACHE_MANAGER).get('1')).toBeUndefined();
      expect(withoutVersions(await raw.keys(`${keyPrefix}products:*`))).toHaveLength(1);
    } finally {
      await raw.quit();
    }
  });

  it('fails bootstrap on a stores entry that is not a Keyv store, naming what to give', async () => {
    await expect(Test.createTestingModule({ imports: [CacheModule.register({ stores: [{}] } as never)] }).compile()).rejects.toThrow(TieredCacheConfigError);
    await expect(Test.createTestingModule({ imports: [CacheModule.register({ stores: [{}] } as never)] }).compile()).rejects.toThrow(
      /"stores\[0\]".*Keyv instance.*KeyvRedis/,
    );
  });

  it('fails bootstrap on an unknown option', async () => {
    await expect(Test.createTestingModule({ imports: [CacheModule.register({ max: 100 } as never)] }).compile()).rejects.toThrow(/"max"/);
  });
});
