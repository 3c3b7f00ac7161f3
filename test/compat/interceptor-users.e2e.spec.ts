import 'reflect-metadata';
import { Controller, type ExecutionContext, Get, Header, Headers, Injectable, Logger, Res, UseInterceptors } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { CACHE_MANAGER, type Cache, CacheInterceptor, CacheKey, CacheModule, CachePublic } from 'nestjs-tiered-cache/compat';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { redisSuite } from '../support/redis-suite.js';
import { ADAPTERS, type AdapterName, compatPrefix, listen, request } from './compat-app.js';
import { handlerRuns } from './handler-runs.js';

/** Bearer tokens and the users they authenticate, as an auth guard would resolve them. */
const USERS: Record<string, string> = { 'token-alice': 'alice', 'token-bob': 'bob' };
const userOf = (authorization: string | undefined) => (authorization === undefined ? 'anonymous' : (USERS[authorization.replace(/^Bearer /, '')] ?? 'unknown'));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const CONCURRENT = 20;

const { HandlerRuns: Runs, CountArrivals } = handlerRuns(CONCURRENT);
type Runs = InstanceType<typeof Runs>;

/** Per-user data under one URL: what a bearer-token `/me` route looks like. */
@Controller()
@UseInterceptors(CacheInterceptor)
class AccountController {
  constructor(private readonly runs: Runs) {}

  @Get('me')
  me(@Headers('authorization') authorization?: string): { user: string; secret: string; run: number } {
    const user = userOf(authorization);
    return { user, secret: `${user}'s email`, run: this.runs.ran(`me:${user}`) };
  }

  @Get('catalog')
  @CachePublic()
  catalog(): { items: string[]; run: number } {
    return { items: ['book'], run: this.runs.ran('catalog') };
  }

  @Get('announcements')
  @CacheKey('announcements')
  announcements(): { text: string; run: number } {
    return { text: 'welcome', run: this.runs.ran('announcements') };
  }

  @Get('private-header')
  @Header('Cache-Control', 'private, max-age=60')
  privateHeader(): { run: number } {
    return { run: this.runs.ran('private-header') };
  }

  @Get('no-store')
  noStore(@Res({ passthrough: true }) res: { header(name: string, value: string): unknown }): { run: number } {
    res.header('Cache-Control', 'no-store');
    return { run: this.runs.ran('no-store') };
  }
}

/** `@CachePublic()` on a controller covers all its routes. */
@Controller('docs')
@CachePublic()
@UseInterceptors(CacheInterceptor)
class DocsController {
  constructor(private readonly runs: Runs) {}

  @Get()
  list(): { run: number } {
    return { run: this.runs.ran('docs') };
  }
}

/** A session-cookie route marking its per-user response private, under a stampede. */
@Controller('session')
@UseInterceptors(CountArrivals, CacheInterceptor)
class SessionController {
  constructor(private readonly runs: Runs) {}

  @Get()
  @Header('Cache-Control', 'private')
  async me(@Headers('x-session') session: string): Promise<{ session: string }> {
    await this.runs.everyoneArrived;
    this.runs.ran('session');
    return { session };
  }
}

/** The opt-in for per-user data: the key includes the user, resolved asynchronously. */
@Injectable()
class PerUserCacheInterceptor extends CacheInterceptor {
  protected override async trackBy(context: ExecutionContext): Promise<string | undefined> {
    if (!this.isRequestCacheable(context)) return undefined;
    const request = context.switchToHttp().getRequest();
    const user = await Promise.resolve(userOf(request.headers.authorization));
    return `user:${user}:${this.httpAdapterHost.httpAdapter.getRequestUrl(request)}`;
  }
}

@Controller('mine')
@UseInterceptors(PerUserCacheInterceptor)
class MineController {
  constructor(private readonly runs: Runs) {}

  @Get()
  me(@Headers('authorization') authorization?: string): { user: string; run: number } {
    const user = userOf(authorization);
    return { user, run: this.runs.ran(`mine:${user}`) };
  }
}

describe.each<AdapterName>(ADAPTERS)('CacheInterceptor and users, on %s', (adapter) => {
  const suite = redisSuite();
  afterEach(() => vi.restoreAllMocks());

  async function start() {
    const r = await listen(adapter, {
      imports: [CacheModule.register({ ttl: 60_000, redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
      controllers: [AccountController, DocsController, SessionController, MineController],
      providers: [Runs, CountArrivals],
    });
    suite.closeAfter(r.app);
    return { ...r, runs: r.app.get(Runs), cache: r.app.get<Cache>(CACHE_MANAGER) };
  }

  it("never serves one token's /me to another token by default", async () => {
    const { url, runs, cache } = await start();

    const alice = await request(`${url}/me`, { headers: bearer('token-alice') });
    const bob = await request(`${url}/me`, { headers: bearer('token-bob') });
    const aliceAgain = await request(`${url}/me`, { headers: bearer('token-alice') });

    expect(alice.body).toEqual({ user: 'alice', secret: "alice's email", run: 1 });
    expect(bob.body).toEqual({ user: 'bob', secret: "bob's email", run: 1 });
    expect(aliceAgain.body).toEqual({ user: 'alice', secret: "alice's email", run: 2 });
    expect([alice.xCache, bob.xCache, aliceAgain.xCache]).toEqual([null, null, null]);
    expect(await cache.get('/me')).toBeUndefined();
    expect(runs.count('me:alice')).toBe(2);
  });

  it('does not serve an authenticated request what an anonymous request cached under the URL', async () => {
    const { url } = await start();

    const anonymous = await request(`${url}/me`);
    const alice = await request(`${url}/me`, { headers: bearer('token-alice') });

    expect(anonymous).toMatchObject({ xCache: 'MISS', body: { user: 'anonymous' } });
    expect(alice.body).toMatchObject({ user: 'alice' });
  });

  it('warns once per route, naming the opt-ins, when it skips a request for its Authorization header', async () => {
    const warn = vi.spyOn(Logger, 'warn').mockImplementation(() => undefined);
    const { url } = await start();

    await request(`${url}/me`, { headers: bearer('token-alice') });
    await request(`${url}/me`, { headers: bearer('token-bob') });

    const warnings = warn.mock.calls.filter(([, context]) => context === 'CacheInterceptor').map(([m]) => String(m));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('AccountController.me');
    expect(warnings[0]).toContain('@CachePublic()');
    expect(warnings[0]).toContain('trackBy()');
    expect(warnings[0]).not.toContain('token-alice');
  });

  it('caches per user when a trackBy() override puts the user in the key', async () => {
    const { url, runs, cache } = await start();
    const as = (token: string) => request(`${url}/mine`, { headers: bearer(token) });

    const [alice1, bob1, alice2, bob2] = [await as('token-alice'), await as('token-bob'), await as('token-alice'), await as('token-bob')];

    expect([alice1.xCache, bob1.xCache, alice2.xCache, bob2.xCache]).toEqual(['MISS', 'MISS', 'HIT', 'HIT']);
    expect(alice2.body).toEqual({ user: 'alice', run: 1 });
    expect(bob2.body).toEqual({ user: 'bob', run: 1 });
    expect(await cache.get('user:alice:/mine')).toEqual({ user: 'alice', run: 1 });
    expect([runs.count('mine:alice'), runs.count('mine:bob')]).toEqual([1, 1]);
  });

  it('shares a @CachePublic() route, or every route of a @CachePublic() controller, across tokens', async () => {
    const { url, runs } = await start();

    await request(`${url}/catalog`, { headers: bearer('token-alice') });
    const bob = await request(`${url}/catalog`, { headers: bearer('token-bob') });
    await request(`${url}/docs`, { headers: bearer('token-alice') });
    const bobDocs = await request(`${url}/docs`, { headers: bearer('token-bob') });

    expect(bob).toMatchObject({ xCache: 'HIT', body: { items: ['book'], run: 1 } });
    expect(bobDocs).toMatchObject({ xCache: 'HIT', body: { run: 1 } });
    expect([runs.count('catalog'), runs.count('docs')]).toEqual([1, 1]);
  });

  it('caches a @CacheKey() route for authenticated requests: the key is the opt-in', async () => {
    const { url, runs } = await start();

    await request(`${url}/announcements`, { headers: bearer('token-alice') });
    const bob = await request(`${url}/announcements`, { headers: bearer('token-bob') });

    expect(bob).toMatchObject({ xCache: 'HIT', body: { text: 'welcome', run: 1 } });
    expect(runs.count('announcements')).toBe(1);
  });

  it('never stores a response marked Cache-Control: private (@Header) or no-store (set in the handler)', async () => {
    const { url, runs, cache } = await start();

    const first = await request(`${url}/private-header`);
    const second = await request(`${url}/private-header`);
    const noStore1 = await request(`${url}/no-store`);
    const noStore2 = await request(`${url}/no-store`);

    expect([first.body, second.body]).toEqual([{ run: 1 }, { run: 2 }]);
    expect([noStore1.body, noStore2.body]).toEqual([{ run: 1 }, { run: 2 }]);
    expect(second.xCache).toBe('MISS');
    expect(await cache.get('/private-header')).toBeUndefined();
    expect(await cache.get('/no-store')).toBeUndefined();
    expect([runs.count('private-header'), runs.count('no-store')]).toEqual([2, 2]);
  });

  it(`does not hand a private response to ${CONCURRENT} concurrent requests for the same URL`, async () => {
    const { url, runs } = await start();

    const responses = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => request(`${url}/session`, { headers: { 'x-session': `s${i}` } })));

    expect(responses.map((r) => r.body)).toEqual(Array.from({ length: CONCURRENT }, (_, i) => ({ session: `s${i}` })));
    expect(runs.count('session')).toBe(CONCURRENT);
  });

  it('neither reads nor writes a CACHE_MANAGER a test put in place for an authenticated request', async () => {
    const calls: string[] = [];
    const fake = {
      get: async (key: string) => {
        calls.push(`get ${key}`);
        return { user: 'someone else' };
      },
      set: async (key: string, value: unknown) => {
        calls.push(`set ${key}`);
        return value;
      },
    };
    const moduleRef = await Test.createTestingModule({
      imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix: compatPrefix(adapter) })],
      controllers: [AccountController],
      providers: [Runs, { provide: APP_INTERCEPTOR, useClass: CacheInterceptor }],
    })
      .overrideProvider(CACHE_MANAGER)
      .useValue(fake)
      .compile();
    const app = moduleRef.createNestApplication(adapter === 'express' ? new ExpressAdapter() : new FastifyAdapter(), {
      logger: false,
    });
    await app.listen(0, '127.0.0.1');
    suite.closeAfter(app);

    const alice = await request(`${(await app.getUrl()).replace('[::1]', '127.0.0.1')}/me`, { headers: bearer('token-alice') });

    expect(alice.body).toMatchObject({ user: 'alice' });
    expect(calls).toEqual([]);
  });
});
