import 'reflect-metadata';
import { type CanActivate, Controller, Get, Inject, Injectable, Module, Param, ParseIntPipe, Scope, SetMetadata, UseGuards } from '@nestjs/common';
import { ContextIdFactory, Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict, CachePut, TieredCacheModule, TieredCacheService } from 'nestjs-tiered-cache';
import { createApp, uniquePrefix } from '../support/app.js';
import { RedisServer } from '../support/redis-server.js';

/**
 * How a decorated method finds its application's cache, for every way Nest can hold an instance.
 * Each fixture counts its loader runs: a cached method runs once for repeated calls.
 */

/** The slow source behind the fixtures; `reads` counts loader runs. */
class Catalog {
  reads = 0;
  name(id: number): string {
    this.reads++;
    return `item ${id}`;
  }
}

@Injectable()
class CatalogService {
  readonly catalog = new Catalog();

  @Cacheable({ key: (id: number) => `item:${id}` })
  async findOne(id: number): Promise<string> {
    return this.catalog.name(id);
  }

  @CacheEvict({ key: (id: number) => `item:${id}` })
  async rename(id: number): Promise<void> {
    void id;
  }
}

/** Built by hand, never by Nest: for `useValue` and `useFactory` providers. */
class HandBuiltCatalog {
  readonly catalog = new Catalog();

  @Cacheable({ key: (id: number) => `hand:${id}` })
  async findOne(id: number): Promise<string> {
    return this.catalog.name(id);
  }
}

@Controller('items')
class ItemsController {
  readonly catalog = new Catalog();

  @Cacheable({ key: (id: number) => `route:${id}` })
  @Get(':id')
  async findOne(@Param('id', ParseIntPipe) id: number): Promise<{ name: string }> {
    return { name: this.catalog.name(id) };
  }
}

describe('wiring: decorated methods reach their own app’s cache', () => {
  let redis: RedisServer;
  const closers: (() => Promise<void>)[] = [];
  const boot = async (...args: Parameters<typeof createApp>) => {
    const created = await createApp(...args);
    closers.push(() => created.app.close());
    return created;
  };
  /** A testing module that is compiled but not initialized yet; closed after the test. */
  const compileOnly = async (providers: NonNullable<Parameters<typeof createApp>[1]>['providers']) => {
    const moduleRef = await Test.createTestingModule({
      imports: [TieredCacheModule.forRoot({ redis: redis.url, keyPrefix: uniquePrefix('wiring') })],
      providers,
    }).compile();
    closers.push(() => moduleRef.close());
    return moduleRef;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });
  afterAll(async () => redis.stop());

  describe('provider kinds', () => {
    it('caches a method of a class provider', async () => {
      const { app, cache } = await boot({ redis: redis.url }, { providers: [CatalogService] });
      const service = app.get(CatalogService);

      expect(await service.findOne(1)).toBe('item 1');
      expect(await service.findOne(1)).toBe('item 1');
      expect(await service.findOne(1)).toBe('item 1');

      expect(service.catalog.reads).toBe(1);
      expect(await cache.get('item:1')).toBe('item 1');
    });

    it('caches a method of a controller', async () => {
      const { app, cache } = await boot({ redis: redis.url }, { controllers: [ItemsController] });
      const controller = app.get(ItemsController);

      expect(await controller.findOne(4)).toEqual({ name: 'item 4' });
      expect(await controller.findOne(4)).toEqual({ name: 'item 4' });

      expect(controller.catalog.reads).toBe(1);
      expect(await cache.get('route:4')).toEqual({ name: 'item 4' });
    });

    it('caches a controller route served over HTTP: the guard runs on every request, the handler once', async () => {
      let guardRuns = 0;
      class CountingGuard implements CanActivate {
        canActivate(): boolean {
          guardRuns++;
          return true;
        }
      }
      @Controller('guarded')
      class GuardedController {
        readonly catalog = new Catalog();

        @UseGuards(CountingGuard)
        @Cacheable({ key: (id: number) => `guarded:${id}` })
        @Get(':id')
        async findOne(@Param('id', ParseIntPipe) id: number): Promise<{ name: string }> {
          return { name: this.catalog.name(id) };
        }
      }
      const moduleRef = await Test.createTestingModule({
        imports: [TieredCacheModule.forRoot({ redis: redis.url, keyPrefix: uniquePrefix('wiring') })],
        controllers: [GuardedController],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      closers.push(() => app.close());
      await app.listen(0, '127.0.0.1');
      const url = await app.getUrl();

      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${url}/guarded/9`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ name: 'item 9' });
      }

      expect(guardRuns).toBe(3);
      expect(app.get(GuardedController).catalog.reads).toBe(1);
    });

    it('caches a method of a useValue provider whose value is an instance of a decorated class', async () => {
      const value = new HandBuiltCatalog();
      const { app, cache } = await boot({ redis: redis.url }, { providers: [{ provide: 'CATALOG', useValue: value }] });
      const service = app.get<HandBuiltCatalog>('CATALOG');
      expect(service).toBe(value);

      await service.findOne(2);
      await service.findOne(2);

      expect(service.catalog.reads).toBe(1);
      expect(await cache.get('hand:2')).toBe('item 2');
    });

    it('caches a method of a useFactory provider', async () => {
      const { app, cache } = await boot({ redis: redis.url }, { providers: [{ provide: 'CATALOG', useFactory: () => new HandBuiltCatalog() }] });
      const service = app.get<HandBuiltCatalog>('CATALOG');

      await service.findOne(3);
      await service.findOne(3);

      expect(service.catalog.reads).toBe(1);
      expect(await cache.get('hand:3')).toBe('item 3');
    });

    it('caches a method of an async useFactory provider with injected dependencies', async () => {
      const { app } = await boot(
        { redis: redis.url },
        {
          providers: [
            { provide: 'LABEL', useValue: 'catalog' },
            {
              provide: 'CATALOG',
              inject: ['LABEL'],
              useFactory: async (label: string) => {
                await Promise.resolve(label);
                return new HandBuiltCatalog();
              },
            },
          ],
        },
      );
      const service = app.get<HandBuiltCatalog>('CATALOG');

      await service.findOne(5);
      await service.findOne(5);

      expect(service.catalog.reads).toBe(1);
    });

    it('an aliased provider (useExisting) shares the cache of its original and is not wrapped twice', async () => {
      const { app, cache } = await boot({ redis: redis.url }, { providers: [CatalogService, { provide: 'CATALOG_ALIAS', useExisting: CatalogService }] });
      const original = app.get(CatalogService);
      const alias = app.get<CatalogService>('CATALOG_ALIAS');
      expect(alias).toBe(original);

      await original.findOne(6);
      const hitsAfterLoad = cache.stats().l1.hits;

      expect(await alias.findOne(6)).toBe('item 6');
      expect(cache.stats().l1.hits).toBe(hitsAfterLoad + 1);
      expect(await original.findOne(6)).toBe('item 6');
      expect(cache.stats().l1.hits).toBe(hitsAfterLoad + 2);
      expect(await alias.findOne(6)).toBe('item 6');
      expect(cache.stats().l1.hits).toBe(hitsAfterLoad + 3);

      expect(original.catalog.reads).toBe(1);
      expect(cache.stats().loads.calls).toBe(1);
    });

    it('caches a method of a request-scoped provider across request contexts', async () => {
      const catalog = new Catalog();
      @Injectable({ scope: Scope.REQUEST })
      class RequestScopedCatalog {
        constructor(@Inject(Catalog) readonly source: Catalog) {}

        @Cacheable({ key: (id: number) => `request:${id}` })
        async findOne(id: number): Promise<string> {
          return this.source.name(id);
        }
      }
      const { app, cache } = await boot({ redis: redis.url }, { providers: [{ provide: Catalog, useValue: catalog }, RequestScopedCatalog] });
      const first = await app.resolve(RequestScopedCatalog, ContextIdFactory.create());
      const second = await app.resolve(RequestScopedCatalog, ContextIdFactory.create());
      expect(second).not.toBe(first);

      expect(await first.findOne(7)).toBe('item 7');
      expect(await second.findOne(7)).toBe('item 7');

      expect(catalog.reads).toBe(1);
      expect(await cache.get('request:7')).toBe('item 7');
    });

    it('caches a method of a transient provider across the consumers that each get their own instance', async () => {
      const catalog = new Catalog();
      @Injectable({ scope: Scope.TRANSIENT })
      class TransientCatalog {
        constructor(@Inject(Catalog) readonly source: Catalog) {}

        @Cacheable({ key: (id: number) => `transient:${id}` })
        async findOne(id: number): Promise<string> {
          return this.source.name(id);
        }
      }
      @Injectable()
      class OrdersService {
        constructor(readonly items: TransientCatalog) {}
      }
      @Injectable()
      class InvoicesService {
        constructor(readonly items: TransientCatalog) {}
      }
      const { app } = await boot(
        { redis: redis.url },
        { providers: [{ provide: Catalog, useValue: catalog }, TransientCatalog, OrdersService, InvoicesService] },
      );
      const orders = app.get(OrdersService);
      const invoices = app.get(InvoicesService);
      expect(orders.items).not.toBe(invoices.items);

      await orders.items.findOne(8);
      await invoices.items.findOne(8);

      expect(catalog.reads).toBe(1);
    });
  });

  describe('inheritance', () => {
    class BaseCatalog {
      readonly catalog = new Catalog();

      @Cacheable({ key: (id: number) => `base:${id}` })
      async findOne(id: number): Promise<string> {
        return this.catalog.name(id);
      }
    }

    it('caches a decorated method a subclass provider inherits from its base class', async () => {
      @Injectable()
      class BooksCatalog extends BaseCatalog {}
      const { app } = await boot({ redis: redis.url }, { providers: [BooksCatalog] });
      const books = app.get(BooksCatalog);

      await books.findOne(1);
      await books.findOne(1);

      expect(books.catalog.reads).toBe(1);
    });

    it('caches an inherited method when the subclass injects properties of its own', async () => {
      @Injectable()
      class MusicCatalog extends BaseCatalog {
        @Inject('GENRE') readonly genre!: string;
      }
      const { app } = await boot({ redis: redis.url }, { providers: [{ provide: 'GENRE', useValue: 'jazz' }, MusicCatalog] });
      const music = app.get(MusicCatalog);
      expect(music.genre).toBe('jazz');

      await music.findOne(1);
      await music.findOne(1);

      expect(music.catalog.reads).toBe(1);
    });

    it('does not cache a subclass override declared without the decorator (decorate the override to cache it)', async () => {
      @Injectable()
      class FilmsCatalog extends BaseCatalog {
        override async findOne(id: number): Promise<string> {
          return this.catalog.name(id);
        }
      }
      const { app, cache } = await boot({ redis: redis.url }, { providers: [FilmsCatalog] });
      const films = app.get(FilmsCatalog);

      await films.findOne(1);
      await films.findOne(1);

      expect(films.catalog.reads).toBe(2);
      expect(await cache.get('base:1')).toBeUndefined();
    });
  });

  describe('what the decorator keeps of the method', () => {
    it('runs the decorated method with `this` bound to the instance', async () => {
      let seen: unknown;
      @Injectable()
      class SelfAware {
        readonly label = 'self';

        @Cacheable({ key: () => 'self' })
        async whoAmI(): Promise<string> {
          seen = this;
          return this.label;
        }
      }
      const { app } = await boot({ redis: redis.url }, { providers: [SelfAware] });
      const instance = app.get(SelfAware);

      expect(await instance.whoAmI()).toBe('self');
      expect(seen).toBe(instance);
    });

    it('keeps the original method name', () => {
      expect(CatalogService.prototype.findOne.name).toBe('findOne');
      expect(CatalogService.prototype.rename.name).toBe('rename');
    });

    it('keeps metadata of decorators applied above and below @Cacheable readable on the method', async () => {
      class AuditGuard implements CanActivate {
        canActivate(): boolean {
          return true;
        }
      }
      @Injectable()
      class Reports {
        readonly catalog = new Catalog();

        @SetMetadata('role', 'admin')
        @Cacheable({ key: (id: number) => `report:${id}` })
        @SetMetadata('audit', true)
        @UseGuards(AuditGuard)
        async findOne(id: number): Promise<string> {
          return this.catalog.name(id);
        }

        @SetMetadata('role', 'reader')
        @Cacheable({ key: (id: number) => `summary:${id}` })
        async summary(id: number): Promise<string> {
          return this.catalog.name(id);
        }

        @Cacheable({ key: (id: number) => `detail:${id}` })
        @SetMetadata('role', 'auditor')
        async detail(id: number): Promise<string> {
          return this.catalog.name(id);
        }
      }

      expect(Reflect.getMetadata('role', Reports.prototype.findOne)).toBe('admin');
      expect(Reflect.getMetadata('audit', Reports.prototype.findOne)).toBe(true);
      expect(Reflect.getMetadata('__guards__', Reports.prototype.findOne)).toEqual([AuditGuard]);
      expect(Reflect.getMetadata('role', Reports.prototype.summary)).toBe('reader');
      expect(Reflect.getMetadata('role', Reports.prototype.detail)).toBe('auditor');
      expect(new Reflector().get('role', Reports.prototype.detail)).toBe('auditor');

      const { app } = await boot({ redis: redis.url }, { providers: [Reports] });
      const reports = app.get(Reports);
      await reports.findOne(1);
      await reports.findOne(1);
      await reports.detail(1);
      await reports.detail(1);
      expect(reports.catalog.reads).toBe(2);
    });
  });

  describe('when the method is reached', () => {
    it('stays cached when a reference captured after compile() and before init() is called after init()', async () => {
      const moduleRef = await compileOnly([CatalogService, { provide: 'CATALOG', useFactory: () => new HandBuiltCatalog() }]);
      const service = moduleRef.get(CatalogService);
      const factoryMade = moduleRef.get<HandBuiltCatalog>('CATALOG');
      const findItem = service.findOne.bind(service);
      const findHandBuilt = factoryMade.findOne.bind(factoryMade);

      await moduleRef.init();
      await findItem(1);
      await findItem(1);
      await findHandBuilt(1);
      await findHandBuilt(1);

      expect(service.catalog.reads).toBe(1);
      expect(factoryMade.catalog.reads).toBe(1);
    });

    it('stays cached when the method reference is captured in the constructor', async () => {
      @Injectable()
      class EagerCatalog {
        readonly catalog = new Catalog();
        readonly lookup: (id: number) => Promise<string>;

        constructor() {
          this.lookup = this.findOne.bind(this);
        }

        @Cacheable({ key: (id: number) => `eager:${id}` })
        async findOne(id: number): Promise<string> {
          return this.catalog.name(id);
        }
      }
      const { app } = await boot({ redis: redis.url }, { providers: [EagerCatalog] });
      const eager = app.get(EagerCatalog);

      await eager.lookup(1);
      await eager.lookup(1);
      await eager.findOne(1);

      expect(eager.catalog.reads).toBe(1);
    });

    it('caches a class provider after compile() alone, before init()', async () => {
      const moduleRef = await compileOnly([CatalogService]);
      const service = moduleRef.get(CatalogService);

      await service.findOne(1);
      await service.findOne(1);

      expect(service.catalog.reads).toBe(1);
    });

    it('runs uncached when called from the constructor, before Nest injects the cache', async () => {
      @Injectable()
      class WarmingCatalog {
        readonly catalog = new Catalog();
        readonly warmed: Promise<string>;

        constructor() {
          this.warmed = this.findOne(1);
        }

        @Cacheable({ key: (id: number) => `warm:${id}` })
        async findOne(id: number): Promise<string> {
          return this.catalog.name(id);
        }
      }
      const { app, cache } = await boot({ redis: redis.url }, { providers: [WarmingCatalog] });
      const warming = app.get(WarmingCatalog);

      expect(await warming.warmed).toBe('item 1');
      expect(await cache.get('warm:1')).toBeUndefined();
      await warming.findOne(1);
      await warming.findOne(1);

      expect(warming.catalog.reads).toBe(2);
    });

    it('runs uncached and without error on an instance built with new outside DI, even while an app caches the class', async () => {
      const { app } = await boot({ redis: redis.url }, { providers: [CatalogService] });
      const managed = app.get(CatalogService);
      await managed.findOne(1);

      const loose = new CatalogService();
      expect(await loose.findOne(1)).toBe('item 1');
      expect(await loose.findOne(1)).toBe('item 1');
      await expect(loose.rename(1)).resolves.toBeUndefined();

      expect(loose.catalog.reads).toBe(2);
      expect(managed.catalog.reads).toBe(1);
    });
  });

  describe('applications', () => {
    it('two apps in one process with different key prefixes on one Redis keep separate caches', async () => {
      const a = await boot({ redis: redis.url, keyPrefix: uniquePrefix('app-a') }, { providers: [CatalogService] });
      const b = await boot({ redis: redis.url, keyPrefix: uniquePrefix('app-b') }, { providers: [CatalogService] });
      const serviceA = a.app.get(CatalogService);
      const serviceB = b.app.get(CatalogService);

      await a.cache.set('item:1', 'set by A');

      expect(await serviceB.findOne(1)).toBe('item 1');
      expect(await serviceA.findOne(1)).toBe('set by A');
      expect(await serviceB.findOne(1)).toBe('item 1');
      expect(serviceA.catalog.reads).toBe(0);
      expect(serviceB.catalog.reads).toBe(1);

      await serviceA.findOne(2);
      await serviceB.findOne(2);
      await serviceA.findOne(2);
      expect(serviceA.catalog.reads).toBe(1);
      expect(serviceB.catalog.reads).toBe(2);
      expect(await b.cache.get('item:1')).toBe('item 1');
      expect(await a.cache.get('item:1')).toBe('set by A');
    });

    it('a useValue instance reused by the next app, after the first app closed, caches in the next app’s cache', async () => {
      // The usual test setup: one fixture object, a fresh app per test.
      const fixture = new HandBuiltCatalog();
      const first = await createApp({ redis: redis.url }, { providers: [{ provide: 'CATALOG', useValue: fixture }] });
      await fixture.findOne(1);
      await first.app.close();

      const next = await boot({ redis: redis.url }, { providers: [{ provide: 'CATALOG', useValue: fixture }] });
      expect(await fixture.findOne(1)).toBe('item 1');

      expect(fixture.catalog.reads).toBe(2);
      expect(await next.cache.get('hand:1')).toBe('item 1');
    });

    it('a decorated method still answers when a test overrides TieredCacheService with a stand-in', async () => {
      const moduleRef = await Test.createTestingModule({
        imports: [TieredCacheModule.forRoot({ redis: false })],
        providers: [CatalogService, { provide: 'CATALOG', useValue: new HandBuiltCatalog() }],
      })
        .overrideProvider(TieredCacheService)
        .useValue({ get: async () => undefined })
        .compile();
      closers.push(() => moduleRef.close());
      const app = await moduleRef.init();

      await expect(app.get(CatalogService).findOne(1)).resolves.toBe('item 1');
      await expect(app.get<HandBuiltCatalog>('CATALOG').findOne(1)).resolves.toBe('item 1');
    });

    it('with isGlobal: false, caches a provider of a module that does not import TieredCacheModule', async () => {
      @Injectable()
      class ShelfService {
        readonly catalog = new Catalog();

        @Cacheable({ key: (id: number) => `shelf:${id}` })
        async findOne(id: number): Promise<string> {
          return this.catalog.name(id);
        }
      }
      @Module({ providers: [ShelfService], exports: [ShelfService] })
      class ShelfModule {}

      const moduleRef = await Test.createTestingModule({
        imports: [TieredCacheModule.forRoot({ redis: redis.url, keyPrefix: uniquePrefix('wiring'), isGlobal: false }), ShelfModule],
      }).compile();
      closers.push(() => moduleRef.close());
      const app = await moduleRef.init();
      const cache = app.get(TieredCacheService);
      const shelf = app.get(ShelfService);

      await shelf.findOne(1);
      await shelf.findOne(1);

      expect(shelf.catalog.reads).toBe(1);
      expect(await cache.get('shelf:1')).toBe('item 1');
    });

    it('@CacheEvict on one method evicts what @Cacheable on another method of the same class cached', async () => {
      const { app, cache } = await boot({ redis: redis.url }, { providers: [CatalogService] });
      const service = app.get(CatalogService);

      await service.findOne(1);
      await service.findOne(1);
      expect(service.catalog.reads).toBe(1);

      await service.rename(1);
      expect(await cache.get('item:1')).toBeUndefined();
      await service.findOne(1);
      await service.findOne(1);

      expect(service.catalog.reads).toBe(2);
    });
  });

  describe('declaration errors, thrown when the class is defined', () => {
    it('rejects a decorated method declared to return something other than a Promise, naming class, method and fix', () => {
      const declare = () => {
        class Prices {
          // @ts-expect-error: the decorator's type accepts only methods returning a Promise
          @Cacheable() syncMethod(): number {
            return 1;
          }
        }
        return Prices;
      };

      expect(declare).toThrow(/must return a Promise/);
      expect(declare).toThrow(/Prices\.syncMethod/);
      expect(declare).toThrow(/Make it async/);
    });

    it('accepts an async method declared without a return type', () => {
      const declare = () => {
        class Prices {
          @Cacheable()
          async current() {
            return 1;
          }
        }
        return Prices;
      };

      expect(declare).not.toThrow();
    });

    it('rejects @CacheEvict() without a key or allEntries, naming class and method', () => {
      const declare = () => {
        class Prices {
          @CacheEvict()
          async update(): Promise<void> {}
        }
        return Prices;
      };

      expect(declare).toThrow(/Prices\.update/);
      expect(declare).toThrow(/needs a key function .*or allEntries: true/);
    });

    it('rejects @CachePut() without a key, naming class and method', () => {
      const declare = () => {
        class Prices {
          @CachePut({} as any)
          async refresh(): Promise<number> {
            return 1;
          }
        }
        return Prices;
      };

      expect(declare).toThrow(/Prices\.refresh/);
      expect(declare).toThrow(/needs a key/);
    });
  });
});
