import 'reflect-metadata';
import { Controller, Get, Inject, Injectable, UseInterceptors } from '@nestjs/common';
import KeyvRedis from '@keyv/redis';
import { Cacheable, CacheableMemory } from 'cacheable';
import { Keyv } from 'keyv';
import {
  CACHE_MANAGER,
  type Cache,
  CacheInterceptor,
  CacheModule,
  type CacheModuleOptions,
  type CacheOptionsFactory,
  CacheTTL,
  type KeyvStore,
} from 'nestjs-tiered-cache/compat';
import { TieredCacheService } from 'nestjs-tiered-cache';
import { describe, expect, it } from 'vitest';
import { redisSuite } from '../support/redis-suite.js';
import { ADAPTERS, type AdapterName, listen, request, sleep } from './compat-app.js';

/**
 * `@nestjs/cache-manager`'s own e2e cases (its tests/e2e folder), rewritten against
 * `nestjs-tiered-cache/compat` with `stores`: each case's app and assertions behave as upstream's,
 * on Express and Fastify, for every way an app gives cache-manager 7 its stores.
 */

@Controller()
class GetSetController {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  @Get()
  async read(): Promise<string> {
    const value = await this.cache.get<string>('key');
    if (!value) await this.cache.set('key', 'value');
    return value ?? 'Not found';
  }

  /** Upstream's multi-store and Cacheable cases: the value, or nothing on the first call. */
  @Get('once')
  async once(): Promise<unknown> {
    const value = await this.cache.get('once-key');
    if (!value) await this.cache.set('once-key', 'stored-value');
    else await this.cache.del('once-key');
    return value;
  }
}

@Controller('ttl')
@CacheTTL(600)
class TtlController {
  counter = 0;

  @Get()
  @CacheTTL(500)
  @UseInterceptors(CacheInterceptor)
  handler(): number {
    return this.counter++;
  }

  @Get('controller')
  @UseInterceptors(CacheInterceptor)
  controllerTtl(): number {
    return this.counter++;
  }
}

type StoreKind = 'in-memory Keyv' | 'KeyvRedis' | 'createKeyv-style Keyv over KeyvRedis' | 'memory + Redis (multi-store)' | 'Cacheable nonBlocking';
const KINDS: StoreKind[] = ['in-memory Keyv', 'KeyvRedis', 'createKeyv-style Keyv over KeyvRedis', 'memory + Redis (multi-store)', 'Cacheable nonBlocking'];

function storesOf(kind: StoreKind, redisUrl: string): KeyvStore | KeyvStore[] {
  switch (kind) {
    case 'in-memory Keyv':
      return [new Keyv()];
    case 'KeyvRedis':
      return [new KeyvRedis(redisUrl)];
    case 'createKeyv-style Keyv over KeyvRedis':
      return new Keyv({ store: new KeyvRedis(redisUrl), namespace: 'app' });
    case 'memory + Redis (multi-store)':
      return [new Keyv({ store: new CacheableMemory({ ttl: 60_000, lruSize: 5_000 }) }), new KeyvRedis(redisUrl)];
    case 'Cacheable nonBlocking':
      return new Cacheable({
        primary: new Keyv({ store: new CacheableMemory({ ttl: 60_000, lruSize: 5_000 }) }),
        secondary: new KeyvRedis(redisUrl),
        nonBlocking: true,
        ttl: 30_000,
      });
  }
}

describe.each<AdapterName>(ADAPTERS)('CacheModule with Keyv stores, on %s', (adapter) => {
  const suite = redisSuite();

  async function start(module: object, ...controllers: (new (...a: any[]) => unknown)[]) {
    const r = await listen(adapter, { imports: [module as never], controllers });
    suite.closeAfter(r.app);
    return r;
  }

  describe.each<StoreKind>(KINDS)('%s', (kind) => {
    const register = (extra: CacheModuleOptions = {}) =>
      CacheModule.register({ stores: storesOf(kind, suite.redis.url), keyPrefix: `${adapter}-${crypto.randomUUID()}:`, ...extra });

    it('answers "Not found", then the value it stored (register with ttl)', async () => {
      const { url } = await start(register({ ttl: 100 }), GetSetController);

      expect((await request(url)).text).toBe('Not found');
      expect((await request(url)).text).toBe('value');
    });

    it('answers nothing on the first call and the stored value on the second (upstream multi-store and Cacheable cases)', async () => {
      const { url, app } = await start(register(), GetSetController);

      expect(await request(`${url}/once`)).toMatchObject({ status: 200, text: '' });
      expect(await request(`${url}/once`)).toMatchObject({ status: 200, text: 'stored-value' });
      expect(await app.get<Cache>(CACHE_MANAGER).clear()).toBe(true);
    });

    it('sets X-Cache MISS when the handler ran and HIT when the cache answered', async () => {
      const { url } = await start(register(), TtlController);

      expect((await request(`${url}/ttl`)).xCache).toBe('MISS');
      expect((await request(`${url}/ttl`)).xCache).toBe('HIT');
    });

    it("keeps a handler's result for its @CacheTTL, and the controller's where the handler has none", async () => {
      const { url } = await start(register(), TtlController);

      expect((await request(`${url}/ttl`)).text).toBe('0');
      await sleep(200);
      expect((await request(`${url}/ttl`)).text).toBe('0');
      await sleep(300);
      expect((await request(`${url}/ttl`)).text).toBe('1');

      expect((await request(`${url}/ttl/controller`)).text).toBe('2');
      await sleep(300);
      expect((await request(`${url}/ttl/controller`)).text).toBe('2');
      await sleep(300);
      expect((await request(`${url}/ttl/controller`)).text).toBe('3');
    });

    it('exposes the stores on the cache and serves what a fresh instance on the same stores stored', async () => {
      const stores = storesOf(kind, suite.redis.url);
      const list = Array.isArray(stores) ? stores : [stores];
      const keyPrefix = `${adapter}-${crypto.randomUUID()}:`;
      const first = await start(CacheModule.register({ stores, keyPrefix }), GetSetController);
      const cache = first.app.get<Cache>(CACHE_MANAGER);
      expect(cache.stores).toHaveLength(list.length);

      await cache.set('shared', { n: 1 }, 60_000);
      // A second app on the same stores (a second instance; in memory, the same objects) with
      // its own empty L1: it can only have the value from the stores.
      const second = await start(CacheModule.register({ stores: list.length === 1 ? list[0]! : list, keyPrefix }), GetSetController);
      let runs = 0;
      const value = await second.app.get<Cache>(CACHE_MANAGER).wrap('shared', () => ({ n: ++runs }));

      expect(value).toEqual({ n: 1 });
      expect(runs).toBe(0);
    });
  });

  it('registerAsync({ useClass }) takes stores from the options factory', async () => {
    const url = suite.redis.url;
    @Injectable()
    class Config implements CacheOptionsFactory {
      createCacheOptions(): CacheModuleOptions {
        return { ttl: 100, stores: [new KeyvRedis(url)], keyPrefix: `${adapter}-${crypto.randomUUID()}:` };
      }
    }
    const r = await start(CacheModule.registerAsync({ useClass: Config }), GetSetController);

    expect((await request(r.url)).text).toBe('Not found');
    expect((await request(r.url)).text).toBe('value');
    expect(r.app.get(TieredCacheService).stats().l2).toMatchObject({ enabled: true, errors: 0, timeouts: 0 });
  });

  it('stores loads in Redis through KeyvRedis, deletes them on del(), and clear() leaves other caches alone', async () => {
    const mine = `${adapter}-${crypto.randomUUID()}:`;
    const other = `${adapter}-${crypto.randomUUID()}:`;
    const a = await start(CacheModule.register({ stores: [new KeyvRedis(suite.redis.url)], keyPrefix: mine }));
    const b = await start(CacheModule.register({ stores: [new KeyvRedis(suite.redis.url)], keyPrefix: other }));
    const cache = a.app.get<Cache>(CACHE_MANAGER);
    const otherCache = b.app.get<Cache>(CACHE_MANAGER);

    expect(await cache.wrap('loaded', () => 'from-loader', 60_000)).toBe('from-loader');
    await otherCache.set('kept', 'other-value', 60_000);
    const keysOf = async (prefix: string) => (await suite.raw.keys('*')).filter((k) => k.includes(prefix));
    await expect.poll(() => keysOf(mine)).toHaveLength(1);

    await cache.del('loaded');
    expect(await keysOf(mine)).toHaveLength(0);

    await cache.set('again', 1, 60_000);
    expect(await cache.clear()).toBe(true);
    expect(await keysOf(mine)).toHaveLength(0);
    expect(await keysOf(other)).toHaveLength(1);
    expect(await otherCache.get('kept')).toBe('other-value');
  });

  it('never stores a load that a del() made stale during it: the next instance runs its loader', async () => {
    const store = new Keyv();
    const keyPrefix = `${adapter}-${crypto.randomUUID()}:`;
    const a = (await start(CacheModule.register({ stores: [store], keyPrefix }))).app.get<Cache>(CACHE_MANAGER);
    let release!: (v: string) => void;
    const loading = a.wrap('k', () => new Promise<string>((r) => (release = r)), 60_000);
    await sleep(20);

    await a.del('k');
    release('stale');
    expect(await loading).toBe('stale');
    await sleep(20);
    expect(await a.get('k')).toBeUndefined();

    const b = (await start(CacheModule.register({ stores: [store], keyPrefix }))).app.get<Cache>(CACHE_MANAGER);
    expect(await b.wrap('k', () => 'fresh', 60_000)).toBe('fresh');
  });

  it('uses a Keyv instance as given (not wrapped again) and disconnects it once at shutdown', async () => {
    let disconnects = 0;
    const map = new Map<string, unknown>();
    const keyvLike = {
      opts: {},
      hooks: {},
      stats: {},
      get: async (k: string) => map.get(k),
      set: async (k: string, v: unknown) => {
        map.set(k, v);
        return true;
      },
      delete: async (k: string) => map.delete(k),
      clear: async () => map.clear(),
      disconnect: async () => void disconnects++,
    };
    const r = await listen(adapter, { imports: [CacheModule.register({ stores: [keyvLike] })] });
    const cache = r.app.get<Cache>(CACHE_MANAGER);
    expect(cache.stores).toEqual([keyvLike]);
    await cache.set('x', 1, 60_000);
    expect(map.size).toBe(1);

    await r.app.close();
    expect(disconnects).toBe(1);
  });

  it('fails at bootstrap, naming the fix, when given both stores and redis', async () => {
    await expect(listen(adapter, { imports: [CacheModule.register({ stores: [new Keyv()], redis: suite.redis.url })] })).rejects.toThrow(
      /give stores \(Keyv\) or redis, not both/,
    );
  });

  it('fails at bootstrap, naming the fix, on a store that is not a Keyv store', async () => {
    await expect(listen(adapter, { imports: [CacheModule.register({ stores: [{ get() {} } as never] })] })).rejects.toThrow(
      /invalid option "stores\[0\]".*Keyv instance/,
    );
  });
});
