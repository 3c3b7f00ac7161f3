import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict, CachePut, type TieredCacheService } from 'nestjs-tiered-cache';
import { createApp, sleep } from '../support/app.js';
import { RedisServer } from '../support/redis-server.js';

interface Product {
  id: number;
  name: string;
  version: number;
}

/** A slow table the service reads; `reads` counts queries. */
class Table {
  reads = 0;
  /** While set, rows read are held in transit until it resolves. */
  inTransit?: Promise<void>;
  rows = new Map<number, Product>();
  read(id: number): Product | null {
    this.reads++;
    const row = this.rows.get(id);
    return row ? { ...row } : null;
  }
}

@Injectable()
class ProductsService {
  readonly table = new Table();

  @Cacheable({ key: (id: number) => `product:${id}` })
  async findOne(id: number): Promise<Product | null> {
    const row = this.table.read(id);
    await (this.table.inTransit ?? sleep(5)); // the row travels back from the database
    return row;
  }

  @CacheEvict({ key: (id: number) => `product:${id}` })
  async update(id: number, name: string): Promise<Product> {
    const row = { id, name, version: (this.table.rows.get(id)?.version ?? 0) + 1 };
    this.table.rows.set(id, row);
    return row;
  }

  @CacheEvict({ key: (id: number) => `product:${id}` })
  async failingUpdate(id: number): Promise<never> {
    this.table.rows.set(id, { id, name: 'half-written', version: -1 });
    throw new Error('constraint violation');
  }

  @CacheEvict({ key: (id: number) => `product:${id}`, beforeInvocation: true })
  async removeBefore(id: number): Promise<void> {
    this.table.rows.delete(id);
    throw new Error('fails after evicting');
  }

  @CachePut({ key: (id: number) => `product:${id}` })
  async rename(id: number, name: string): Promise<Product> {
    const row = { id, name, version: (this.table.rows.get(id)?.version ?? 0) + 1 };
    this.table.rows.set(id, row);
    return row;
  }

  @Cacheable({ key: (id: number) => `guarded:${id}`, condition: (id: number) => id > 0, unless: (r: Product | null) => r === null })
  async guarded(id: number): Promise<Product | null> {
    return this.table.read(id);
  }

  searches = 0;
  @Cacheable()
  async search(filter: { name?: string; page?: number }, limit?: number): Promise<string> {
    this.searches++;
    return `${filter.name}:${filter.page}:${limit}`;
  }

  @CacheEvict({ allEntries: true })
  async reindex(): Promise<void> {}

  @Cacheable({ key: (ids: number[]) => `many:${ids.join(',')}` })
  async many(ids: number[]): Promise<number[]> {
    return ids.map((id) => this.table.read(id)?.version ?? 0);
  }

  @CacheEvict({ key: (ids: number[]) => ids.map((id) => `product:${id}`) })
  async bulkTouch(ids: number[]): Promise<void> {
    void ids;
  }
}

describe('decorators', () => {
  let redis: RedisServer;
  let service: ProductsService;
  let cache: TieredCacheService;
  let close: () => Promise<void>;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => close());
  afterAll(async () => redis.stop());

  const boot = async () => {
    const created = await createApp({ redis: redis.url }, { providers: [ProductsService] });
    service = created.app.get(ProductsService);
    cache = created.cache;
    close = () => created.app.close();
    service.table.rows.set(1, { id: 1, name: 'one', version: 1 });
  };

  it('@Cacheable and a service call with the same key name the same entry', async () => {
    await boot();
    await service.findOne(1);
    expect(await cache.get('product:1')).toEqual({ id: 1, name: 'one', version: 1 });
    await cache.set('product:1', { id: 1, name: 'set by hand', version: 9 });
    expect(await service.findOne(1)).toEqual({ id: 1, name: 'set by hand', version: 9 });
  });

  it('@CacheEvict evicts after the method succeeds: the next read sees the new row', async () => {
    await boot();
    await service.findOne(1);
    await service.update(1, 'renamed');
    expect(await service.findOne(1)).toMatchObject({ name: 'renamed', version: 2 });
    expect(service.table.reads).toBe(2);
  });

  it('@CacheEvict evicts nothing when the method throws', async () => {
    await boot();
    await service.findOne(1);
    await expect(service.failingUpdate(1)).rejects.toThrow('constraint violation');
    expect(await service.findOne(1)).toMatchObject({ name: 'one' });
    expect(service.table.reads).toBe(1);
  });

  it('@CacheEvict({ beforeInvocation: true }) evicts even when the method then throws', async () => {
    await boot();
    await service.findOne(1);
    await expect(service.removeBefore(1)).rejects.toThrow('fails after evicting');
    expect(await service.findOne(1)).toBeNull();
  });

  it('@CacheEvict with a key function returning several keys evicts them all', async () => {
    await boot();
    service.table.rows.set(2, { id: 2, name: 'two', version: 1 });
    await service.findOne(1);
    await service.findOne(2);
    await service.bulkTouch([1, 2]);
    await service.findOne(1);
    await service.findOne(2);
    expect(service.table.reads).toBe(4);
  });

  it('@CachePut always runs the method and stores its result for the readers', async () => {
    await boot();
    await service.findOne(1);
    await service.rename(1, 'put');
    await service.rename(1, 'put again');
    expect(await service.findOne(1)).toMatchObject({ name: 'put again', version: 3 });
    expect(service.table.reads).toBe(1);
  });

  it('condition false runs the method without touching the cache; unless true returns but does not store', async () => {
    await boot();
    await service.guarded(0);
    await service.guarded(0);
    expect(service.table.reads).toBe(2);
    expect(await service.guarded(99)).toBeNull();
    expect(await service.guarded(99)).toBeNull();
    expect(service.table.reads).toBe(4);
    await service.guarded(1);
    await service.guarded(1);
    expect(service.table.reads).toBe(5);
  });

  it('default keys come from class, method and arguments, whatever the order of object keys', async () => {
    await boot();
    expect(await service.search({ name: 'a', page: 2 }, 10)).toBe('a:2:10');
    expect(await service.search({ page: 2, name: 'a' }, 10)).toBe('a:2:10');
    expect(service.searches).toBe(1);
    await service.search({ name: 'a', page: 3 }, 10);
    await service.search({ name: 'a', page: 2 });
    expect(service.searches).toBe(3);
    expect(await cache.get('ProductsService:search:[{"name":"a","page":2},10]')).toBe('a:2:10');
  });

  it('@CacheEvict({ allEntries: true }) clears the default-key namespace of the class only', async () => {
    await boot();
    await service.search({ name: 'x' });
    await service.findOne(1);
    await service.reindex();
    await service.search({ name: 'x' });
    await service.findOne(1);
    expect(service.searches).toBe(2);
    expect(service.table.reads).toBe(1);
  });

  it('runs the method uncached (and still answers) when default-key arguments have no stable form', async () => {
    await boot();
    const f = () => 1;
    expect(await service.search({ name: f as unknown as string })).toBe(`${String(f)}:undefined:undefined`);
    expect(await service.search({ name: f as unknown as string })).toBe(`${String(f)}:undefined:undefined`);
    expect(service.searches).toBe(2);
  });

  it('a load that started before an eviction does not store its stale result', async () => {
    await boot();
    let arrive!: () => void;
    service.table.inTransit = new Promise<void>((r) => (arrive = r));
    const inFlight = service.findOne(1);
    while (service.table.reads === 0) await sleep(1);
    service.table.inTransit = undefined;
    await service.update(1, 'newer');
    arrive();
    expect(await inFlight).toMatchObject({ name: 'one' });
    expect(await service.findOne(1)).toMatchObject({ name: 'newer' });
    await sleep(20);
    expect(await cache.get('product:1')).toMatchObject({ name: 'newer' });
  });
});
