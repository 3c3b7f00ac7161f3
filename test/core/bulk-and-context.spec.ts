import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Cacheable, CacheEvict } from 'nestjs-tiered-cache';
import { eventually } from '../support/app.js';
import { commandCalls } from '../support/redis-server.js';
import { redisSuite } from '../support/redis-suite.js';
import { withoutVersions } from '../support/topology.js';

const tenant = new AsyncLocalStorage<string>();

@Injectable()
class Invoices {
  reads: string[] = [];
  @Cacheable({ key: (id: number) => `invoice:${id}` })
  async find(id: number): Promise<string> {
    this.reads.push(`${tenant.getStore()}:${id}`);
    return `invoice ${id} of ${tenant.getStore()}`;
  }

  @CacheEvict({ key: (id: number) => `invoice:${id}` })
  async update(id: number): Promise<void> {
    void id;
  }
}

describe('bulk operations and tenant-safe keys', () => {
  const suite = redisSuite();

  it('getMany reads L1 first and only the misses from Redis, in order; setMany and delMany write and evict many', async () => {
    const { cache } = await suite.app({ keyPrefix: 'bulk:' });
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await cache.setMany(keys.map((key, i) => ({ key, value: i, options: { ttl: 60_000 } })));
    // A second instance has none of them in L1; it reads half of them first.
    const { cache: reader } = await suite.app({ keyPrefix: 'bulk:' });
    await reader.getMany(keys.slice(0, 50));
    const gets = await commandCalls(suite.raw, 'get');
    const values = await reader.getMany([...keys, 'missing']);
    expect(values).toEqual([...keys.map((_, i) => i), undefined]);
    expect((await commandCalls(suite.raw, 'get')) - gets).toBe(51);
    await reader.delMany(keys.slice(0, 10));
    expect(await reader.getMany(keys.slice(0, 12))).toEqual([...Array(10).fill(undefined), 10, 11]);
    // The writer drops its L1 copies when the bus delivers the eviction.
    const evicted = async () => (await cache.getMany(keys.slice(0, 10))).every((v) => v === undefined);
    expect(await eventually(evicted)).toBe(true);
  });

  it('keyContext makes the tenant part of every key: one tenant never reads another tenant’s entry', async () => {
    const { app, cache } = await suite.app({ keyPrefix: 'tenants:', keyContext: () => tenant.getStore() }, { providers: [Invoices] });
    const invoices = app.get(Invoices);
    expect(await tenant.run('acme', () => invoices.find(1))).toBe('invoice 1 of acme');
    expect(await tenant.run('globex', () => invoices.find(1))).toBe('invoice 1 of globex');
    expect(await tenant.run('acme', () => invoices.find(1))).toBe('invoice 1 of acme');
    expect(invoices.reads).toEqual(['acme:1', 'globex:1']);
    // The service sees the same scoping.
    expect(await tenant.run('acme', () => cache.get('invoice:1'))).toBe('invoice 1 of acme');
    expect(await tenant.run('initech', () => cache.get('invoice:1'))).toBeUndefined();
    expect(await cache.get('invoice:1')).toBeUndefined(); // no context is a context of its own
    // Evicting in one tenant leaves the other's entry.
    await tenant.run('acme', () => invoices.update(1));
    expect(await tenant.run('globex', () => invoices.find(1))).toBe('invoice 1 of globex');
    await tenant.run('acme', () => invoices.find(1));
    expect(invoices.reads).toEqual(['acme:1', 'globex:1', 'acme:1']);
    // Entries only: a write or eviction also leaves the key's write version (`…:ver`) for a while.
    const stored = async () =>
      withoutVersions(await suite.raw.keys('tenants:*'))
        .sort()
        .join(' ');
    expect(await eventually(async () => (await stored()) === 'tenants:{acme/invoice:1} tenants:{globex/invoice:1}')).toBe(true);
  });

  it('a tenant value cannot forge another tenant’s key (context values are encoded)', async () => {
    let current = 'a';
    const { cache } = await suite.app({ redis: false, keyContext: () => current });
    await cache.set('b/c', 'secret of a');
    current = 'a/b';
    expect(await cache.get('c')).toBeUndefined();
    current = 'a';
    expect(await cache.get('b/c')).toBe('secret of a');
  });
});
