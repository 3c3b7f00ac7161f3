import 'reflect-metadata';
import {
  Controller,
  type ExecutionContext,
  Get,
  Headers,
  Injectable,
  type MessageEvent,
  NotFoundException,
  Param,
  Post,
  Sse,
  StreamableFile,
  UseInterceptors,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { TieredCacheService } from 'nestjs-tiered-cache';
import { CACHE_MANAGER, type Cache, CacheInterceptor, CacheKey, CacheModule, CacheTTL } from 'nestjs-tiered-cache/compat';
import { from, type Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { redisSuite } from '../support/redis-suite.js';
import { ADAPTERS, type AdapterName, compatPrefix, eventually, listen, request } from './compat-app.js';
import { handlerRuns } from './handler-runs.js';

const STAMPEDE = 200;
const MODULE_TTL = 60_000;

/** What the controllers did, per app: handler runs by name, and requests that reached a route. */
const { HandlerRuns: Counters, CountArrivals } = handlerRuns(STAMPEDE);
type Counters = InstanceType<typeof Counters>;

@Controller('stampede')
@UseInterceptors(CountArrivals, CacheInterceptor)
class StampedeController {
  constructor(private readonly counters: Counters) {}

  /** Answers only once all the concurrent requests have reached the route. */
  @Get()
  async cold(): Promise<{ runs: number }> {
    await this.counters.everyoneArrived;
    return { runs: this.counters.ran('stampede') };
  }
}

@Controller('items')
@UseInterceptors(CacheInterceptor)
class ItemsController {
  constructor(private readonly counters: Counters) {}

  @Post()
  create(): { run: number } {
    return { run: this.counters.ran('post') };
  }

  @Get('keyed')
  @CacheKey('items:keyed')
  keyed(): { run: number } {
    return { run: this.counters.ran('keyed') };
  }

  @Get('keyed-by/:id')
  @CacheKey((ctx: ExecutionContext) => `items:by:${ctx.switchToHttp().getRequest().params.id}`)
  keyedBy(@Param('id') id: string): { id: string; run: number } {
    return { id, run: this.counters.ran(`keyed-by:${id}`) };
  }

  @Get('keyed-async/:id')
  @CacheKey(async (ctx: ExecutionContext) => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    return `items:async:${ctx.switchToHttp().getRequest().params.id}`;
  })
  keyedAsync(@Param('id') id: string): { id: string; run: number } {
    return { id, run: this.counters.ran(`keyed-async:${id}`) };
  }

  @Get('keyed-async-none')
  @CacheKey(async () => undefined)
  keyedAsyncNone(): { run: number } {
    return { run: this.counters.ran('keyed-async-none') };
  }

  @Get('ttl-number')
  @CacheTTL(12_345)
  ttlNumber(): { run: number } {
    return { run: this.counters.ran('ttl-number') };
  }

  @Get('ttl-fn')
  @CacheTTL((ctx: ExecutionContext) => Number(ctx.switchToHttp().getRequest().query.ttl))
  ttlFn(): { run: number } {
    return { run: this.counters.ran('ttl-fn') };
  }

  @Get('nothing')
  nothing(): null {
    this.counters.ran('nothing');
    return null;
  }

  @Get('file')
  file(): StreamableFile {
    return new StreamableFile(Buffer.from(`file ${this.counters.ran('file')}`));
  }

  @Sse('events')
  events(): Observable<MessageEvent> {
    const run = this.counters.ran('events');
    return from([{ data: `a${run}` }, { data: `b${run}` }]);
  }

  @Get(':id')
  findOne(@Param('id') id: string): { id: string; run: number } {
    const run = this.counters.ran(`item:${id}`);
    if (id === 'missing') throw new NotFoundException();
    return { id, run };
  }
}

/** A subclass whose key needs an await (e.g. a session lookup), as `@nestjs/cache-manager` allows. */
@Injectable()
class AsyncTrackByInterceptor extends CacheInterceptor {
  protected override async trackBy(context: ExecutionContext): Promise<string | undefined> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const request = context.switchToHttp().getRequest();
    return `region:${request.headers['x-region']}:${this.httpAdapterHost.httpAdapter.getRequestUrl(request)}`;
  }
}

@Controller('regional')
@UseInterceptors(AsyncTrackByInterceptor)
class RegionalController {
  constructor(private readonly counters: Counters) {}

  @Get()
  list(@Headers('x-region') region: string): { region: string; run: number } {
    return { region, run: this.counters.ran(`regional:${region}`) };
  }
}

@Controller('ttl')
@CacheTTL(30_000)
@UseInterceptors(CacheInterceptor)
class TtlController {
  @Get('controller')
  fromController(): string[] {
    return ['controller'];
  }

  @Get('method')
  @CacheTTL(40_000)
  fromMethod(): string[] {
    return ['method'];
  }
}

@Controller('plain')
class PlainController {
  runs = 0;

  @Get()
  list(): { run: number } {
    return { run: ++this.runs };
  }
}

describe.each<AdapterName>(ADAPTERS)('CacheInterceptor on %s', (adapter) => {
  const suite = redisSuite();

  async function start(keyPrefix = compatPrefix(adapter)) {
    const r = await listen(adapter, {
      imports: [CacheModule.register({ ttl: MODULE_TTL, redis: suite.redis.url, keyPrefix })],
      controllers: [StampedeController, ItemsController, TtlController, RegionalController],
      providers: [Counters, CountArrivals],
    });
    suite.closeAfter(r.app);
    return {
      ...r,
      counters: r.app.get(Counters),
      cache: r.app.get<Cache>(CACHE_MANAGER),
      tiered: r.app.get(TieredCacheService),
    };
  }

  /** Asserts that `key` expires `ttl` ms after a moment inside the call. */
  async function expectExpiry(cache: Cache, key: string, ttl: number, call: () => Promise<unknown>) {
    const before = Date.now();
    await call();
    const after = Date.now();
    const expires = await cache.ttl(key);
    expect(expires).toBeGreaterThanOrEqual(before + ttl);
    expect(expires).toBeLessThanOrEqual(after + ttl);
  }

  it(`runs the handler once for ${STAMPEDE} concurrent requests to a cold URL`, async () => {
    const { url, counters } = await start();

    const responses = await Promise.all(Array.from({ length: STAMPEDE }, () => request(`${url}/stampede`)));

    expect(counters.arrivals).toBe(STAMPEDE);
    expect(counters.count('stampede')).toBe(1);
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(new Set(responses.map((r) => r.text))).toEqual(new Set([JSON.stringify({ runs: 1 })]));
    expect(responses.filter((r) => r.xCache === 'MISS')).toHaveLength(1);
    expect(responses.filter((r) => r.xCache === 'HIT')).toHaveLength(STAMPEDE - 1);
  });

  it('answers MISS, then HIT from L1 for the very next request', async () => {
    const { url, counters, tiered } = await start();

    const first = await request(`${url}/items/7`);
    const l1Hits = tiered.stats().l1.hits;
    const second = await request(`${url}/items/7`);

    expect(first).toMatchObject({ status: 200, xCache: 'MISS', body: { id: '7', run: 1 } });
    expect(second).toMatchObject({ status: 200, xCache: 'HIT', body: { id: '7', run: 1 } });
    expect(tiered.stats().l1.hits).toBe(l1Hits + 1);
    expect(counters.count('item:7')).toBe(1);
  });

  it('does not cache POST requests', async () => {
    const { url, counters } = await start();

    const first = await request(`${url}/items`, { method: 'POST' });
    const second = await request(`${url}/items`, { method: 'POST' });

    expect(first.body).toEqual({ run: 1 });
    expect(second.body).toEqual({ run: 2 });
    expect(second.xCache).toBeNull();
    expect(counters.count('post')).toBe(2);
  });

  it('keys GET responses by URL, query string included', async () => {
    const { url, cache } = await start();

    await request(`${url}/items/1?page=2`);
    const other = await request(`${url}/items/1`);

    expect(other.xCache).toBe('MISS');
    expect(await cache.get('/items/1?page=2')).toEqual({ id: '1', run: 1 });
    expect(await cache.get('/items/1')).toEqual({ id: '1', run: 2 });
  });

  it('stores under the @CacheKey() key instead of the URL', async () => {
    const { url, cache, counters } = await start();

    await request(`${url}/items/keyed`);
    const second = await request(`${url}/items/keyed`);

    expect(second).toMatchObject({ xCache: 'HIT', body: { run: 1 } });
    expect(await cache.get('items:keyed')).toEqual({ run: 1 });
    expect(await cache.get('/items/keyed')).toBeUndefined();
    expect(counters.count('keyed')).toBe(1);
  });

  it('computes the key with a @CacheKey() function of the execution context', async () => {
    const { url, cache } = await start();

    await request(`${url}/items/keyed-by/4`);

    expect(await cache.get('items:by:4')).toEqual({ id: '4', run: 1 });
  });

  it('awaits a @CacheKey() function that returns a promise, and stores under the key it resolves to', async () => {
    const { url, cache, counters } = await start();

    const first = await request(`${url}/items/keyed-async/4`);
    const second = await request(`${url}/items/keyed-async/4`);

    expect(first).toMatchObject({ status: 200, xCache: 'MISS', body: { id: '4', run: 1 } });
    expect(second).toMatchObject({ status: 200, xCache: 'HIT', body: { id: '4', run: 1 } });
    expect(await cache.get('items:async:4')).toEqual({ id: '4', run: 1 });
    expect(counters.count('keyed-async:4')).toBe(1);
  });

  it('does not cache a request whose @CacheKey() promise resolves to undefined', async () => {
    const { url, counters } = await start();

    const first = await request(`${url}/items/keyed-async-none`);
    const second = await request(`${url}/items/keyed-async-none`);

    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second).toMatchObject({ xCache: null, body: { run: 2 } });
    expect(counters.count('keyed-async-none')).toBe(2);
  });

  it('awaits an async trackBy() of a subclass: one entry per key it resolves to', async () => {
    const { url, cache, counters } = await start();
    const as = (region: string) => request(`${url}/regional`, { headers: { 'x-region': region } });

    const [eu1, us1, eu2, us2] = [await as('eu'), await as('us'), await as('eu'), await as('us')];

    expect([eu1.xCache, us1.xCache, eu2.xCache, us2.xCache]).toEqual(['MISS', 'MISS', 'HIT', 'HIT']);
    expect(eu2.body).toEqual({ region: 'eu', run: 1 });
    expect(us2.body).toEqual({ region: 'us', run: 1 });
    expect(await cache.get('region:eu:/regional')).toEqual({ region: 'eu', run: 1 });
    expect([counters.count('regional:eu'), counters.count('regional:us')]).toEqual([1, 1]);
  });

  it('keeps a response for the @CacheTTL() milliseconds', async () => {
    const { url, cache } = await start();

    await expectExpiry(cache, '/items/ttl-number', 12_345, () => request(`${url}/items/ttl-number`));
  });

  it('keeps a response for the TTL a @CacheTTL() function returns', async () => {
    const { url, cache } = await start();

    await expectExpiry(cache, '/items/ttl-fn?ttl=23456', 23_456, () => request(`${url}/items/ttl-fn?ttl=23456`));
  });

  it("applies a controller's @CacheTTL(), a method's own taking priority", async () => {
    const { url, cache } = await start();

    await expectExpiry(cache, '/ttl/controller', 30_000, () => request(`${url}/ttl/controller`));
    await expectExpiry(cache, '/ttl/method', 40_000, () => request(`${url}/ttl/method`));
  });

  it("keeps a response for the module's ttl without @CacheTTL()", async () => {
    const { url, cache } = await start();

    await expectExpiry(cache, '/items/3', MODULE_TTL, () => request(`${url}/items/3`));
  });

  it('treats a null result as a miss: the handler runs for every request', async () => {
    const { url, cache, counters } = await start();

    const first = await request(`${url}/items/nothing`);
    const second = await request(`${url}/items/nothing`);

    expect([first.xCache, second.xCache]).toEqual(['MISS', 'MISS']);
    expect(counters.count('nothing')).toBe(2);
    expect(await cache.get('/items/nothing')).toBeUndefined();
  });

  it('never caches a StreamableFile', async () => {
    const { url, counters } = await start();

    const first = await request(`${url}/items/file`);
    const second = await request(`${url}/items/file`);

    expect([first.text, second.text]).toEqual(['file 1', 'file 2']);
    expect(second.xCache).toBe('MISS');
    expect(counters.count('file')).toBe(2);
  });

  it('never caches server-sent events', async () => {
    const { url, counters } = await start();

    const first = await request(`${url}/items/events`);
    const second = await request(`${url}/items/events`);

    expect(first.text).toContain('data: a1');
    expect(first.text).toContain('data: b1');
    expect(second.text).toContain('data: b2');
    expect(counters.count('events')).toBe(2);
  });

  it('does not cache errors', async () => {
    const { url, counters } = await start();

    const first = await request(`${url}/items/missing`);
    const second = await request(`${url}/items/missing`);

    expect([first.status, second.status]).toEqual([404, 404]);
    expect(counters.count('item:missing')).toBe(2);
  });

  it('runs the handler again once the app deletes the URL key', async () => {
    const { url, cache } = await start();
    await request(`${url}/items/5`);

    await cache.del('/items/5');
    const after = await request(`${url}/items/5`);

    expect(after).toMatchObject({ xCache: 'MISS', body: { run: 2 } });
  });

  it('caches every GET route when bound globally with APP_INTERCEPTOR', async () => {
    const r = await listen(adapter, {
      imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
      controllers: [PlainController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }],
    });
    suite.closeAfter(r.app);

    await request(`${r.url}/plain`);
    const second = await request(`${r.url}/plain`);

    expect(second).toMatchObject({ xCache: 'HIT', body: { run: 1 } });
  });

  it("reads and writes through a CACHE_MANAGER a test put in place of the module's", async () => {
    const entries = new Map<string, unknown>();
    const fake = {
      get: async (key: string) => entries.get(key),
      set: async (key: string, value: unknown) => {
        entries.set(key, value);
        return value;
      },
    };
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
      controllers: [PlainController],
      providers: [{ provide: APP_INTERCEPTOR, useClass: CacheInterceptor }],
    })
      .overrideProvider(CACHE_MANAGER)
      .useValue(fake)
      .compile();
    const app = moduleRef.createNestApplication(adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), {
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    suite.closeAfter(app);

    const first = await request(`${url}/plain`);
    const second = await request(`${url}/plain`);

    expect([first.xCache, second.xCache]).toEqual(['MISS', 'HIT']);
    expect(await eventually(() => entries.has('/plain'))).toBe(true);
    expect(entries.get('/plain')).toEqual({ run: 1 });
  });

  it('answers HIT on another instance sharing the Redis, without running its handler', async () => {
    const keyPrefix = compatPrefix(adapter);
    const a = await start(keyPrefix);
    const b = await start(keyPrefix);

    await request(`${a.url}/items/9`);
    const fromB = await request(`${b.url}/items/9`);

    expect(fromB).toMatchObject({ xCache: 'HIT', body: { id: '9', run: 1 } });
    expect(b.counters.count('item:9')).toBe(0);
  });
});
