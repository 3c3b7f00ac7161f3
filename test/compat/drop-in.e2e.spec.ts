import 'reflect-metadata';
import { CACHE_MANAGER, type Cache } from 'nestjs-tiered-cache/compat';
import { describe, expect, it } from 'vitest';
import { redisSuite } from '../support/redis-suite.js';
import { ADAPTERS, type AdapterName, compatPrefix, eventually, listen, request } from './compat-app.js';
import { AppModule } from './fixtures/cache-manager-app/app.module.js';
import { ProfileController } from './fixtures/cache-manager-app/profile.controller.js';
import { TodosService } from './fixtures/cache-manager-app/todos.service.js';

/**
 * The tests of an app written for `@nestjs/cache-manager` (fixtures/cache-manager-app), unchanged:
 * only the app's imports moved to `nestjs-tiered-cache/compat`.
 */
describe.each<AdapterName>(ADAPTERS)('an app written for @nestjs/cache-manager, on %s', (adapter) => {
  const suite = redisSuite();

  async function start(cachePrefix = compatPrefix(adapter)) {
    const r = await listen(adapter, {
      imports: [AppModule.forRoot({ CACHE_TTL: 60_000, REDIS_URL: suite.redis.url, CACHE_PREFIX: cachePrefix })],
    });
    suite.closeAfter(r.app);
    return { ...r, todos: r.app.get(TodosService), cache: r.app.get<Cache>(CACHE_MANAGER) };
  }

  const post = (url: string, body: unknown) => request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('serves GET /todos from the cache', async () => {
    const { url, todos } = await start();

    const first = await request(`${url}/todos`);
    const second = await request(`${url}/todos`);

    expect(first).toMatchObject({ status: 200, xCache: 'MISS', body: ['buy milk'] });
    expect(second).toMatchObject({ status: 200, xCache: 'HIT', body: ['buy milk'] });
    expect(todos.reads.findAll).toBe(1);
  });

  it('lists a new todo right after POST /todos', async () => {
    const { url } = await start();
    await request(`${url}/todos`);

    const created = await post(`${url}/todos`, { title: 'call mum' });
    const list = await request(`${url}/todos`);

    expect(created).toMatchObject({ status: 201, body: { title: 'call mum' } });
    expect(list.body).toEqual(['buy milk', 'call mum']);
  });

  it('keeps GET /todos for the controller TTL and /todos/count under custom_key for its own', async () => {
    const { url, cache } = await start();
    const before = Date.now();

    await request(`${url}/todos`);
    await request(`${url}/todos/count`);
    const after = Date.now();

    expect(await cache.get('custom_key')).toEqual({ count: 1 });
    expect(await cache.ttl('/todos')).toBeGreaterThanOrEqual(before + 5000);
    expect(await cache.ttl('/todos')).toBeLessThanOrEqual(after + 5000);
    expect(await cache.ttl('custom_key')).toBeGreaterThanOrEqual(before + 2000);
    expect(await cache.ttl('custom_key')).toBeLessThanOrEqual(after + 2000);
  });

  it('caches the stats itself with get() and set()', async () => {
    const { url, todos } = await start();

    const first = await request(`${url}/stats`);
    const second = await request(`${url}/stats`);

    expect(first.body).toEqual({ total: 1 });
    expect(second.body).toEqual({ total: 1 });
    expect(todos.reads.stats).toBe(1);
  });

  it('starts over after DELETE /todos/cache', async () => {
    const { url, todos } = await start();
    await request(`${url}/todos`);

    await request(`${url}/todos/cache`, { method: 'DELETE' });
    const after = await request(`${url}/todos`);

    expect(after.xCache).toBe('MISS');
    expect(todos.reads.findAll).toBe(2);
  });

  it('keeps one cached profile per user with its own trackBy()', async () => {
    const { url, app } = await start();
    const as = (user: string) => request(`${url}/profile`, { headers: { 'x-user': user } });

    await as('ada');
    const again = await as('ada');
    const other = await as('bob');

    expect(again).toMatchObject({ xCache: 'HIT', body: { user: 'ada', load: 1 } });
    expect(other).toMatchObject({ xCache: 'MISS', body: { user: 'bob', load: 1 } });
    expect(app.get(ProfileController).loads).toEqual(
      new Map([
        ['ada', 1],
        ['bob', 1],
      ]),
    );
  });

  it('answers from the cache on a second instance, and sees its evictions', async () => {
    const cachePrefix = compatPrefix(adapter);
    const a = await start(cachePrefix);
    const b = await start(cachePrefix);
    await request(`${a.url}/todos`);

    const fromB = await request(`${b.url}/todos`);
    await post(`${b.url}/todos`, { title: 'water plants' });
    // A drops its L1 copy when B's eviction reaches it over the bus.
    expect(await eventually(async () => (await a.cache.get('/todos')) === undefined)).toBe(true);
    const fromA = await request(`${a.url}/todos`);

    expect(fromB).toMatchObject({ xCache: 'HIT', body: ['buy milk'] });
    expect(b.todos.reads.findAll).toBe(0);
    // Each instance has its own in-memory list: A reloads its own after B's eviction.
    expect(fromA).toMatchObject({ xCache: 'MISS', body: ['buy milk'] });
  });
});
