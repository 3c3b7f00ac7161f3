import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Cacheable } from 'nestjs-tiered-cache';
import { eventually, sleep } from '../support/app.js';
import { commandCalls } from '../support/redis-server.js';
import { redisSuite } from '../support/redis-suite.js';

@Injectable()
class Products {
  calls = 0;
  @Cacheable({ key: (id: number) => `product:${id}`, ttl: 60_000 })
  async findOne(id: number) {
    this.calls++;
    return { id, name: `p${id}` };
  }
}

describe('read path: L1, then Redis, then the loader', () => {
  const suite = redisSuite();
  const app = suite.app.bind(suite);

  it('runs the loader once and serves repeats from L1 without sending anything to Redis', async () => {
    const { app: a, cache } = await app({ redis: suite.redis.url, keyPrefix: 'l1hit:' }, { providers: [Products] });
    const products = a.get(Products);
    await products.findOne(1);
    expect(await eventually(async () => (await suite.raw.exists('l1hit:{product:1}')) === 1)).toBe(true);
    const gets = await commandCalls(suite.raw, 'get');
    const sets = await commandCalls(suite.raw, 'set');
    const evals = await commandCalls(suite.raw, 'evalsha');
    for (let i = 0; i < 50; i++) expect(await products.findOne(1)).toEqual({ id: 1, name: 'p1' });
    expect(products.calls).toBe(1);
    expect(await commandCalls(suite.raw, 'get')).toBe(gets);
    expect(await commandCalls(suite.raw, 'set')).toBe(sets);
    expect(await commandCalls(suite.raw, 'evalsha')).toBe(evals);
    expect(cache.stats().l1).toMatchObject({ hits: 50, misses: 1 });
  });

  it('stores the entry in Redis with a TTL, under the prefix (written after the caller has its result)', async () => {
    const { app: a } = await app({ redis: suite.redis.url, keyPrefix: 'shop-ttl:' }, { providers: [Products] });
    await a.get(Products).findOne(7);
    expect(await eventually(async () => (await suite.raw.exists('shop-ttl:{product:7}')) === 1)).toBe(true);
    const pttl = await suite.raw.pttl('shop-ttl:{product:7}');
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('a fresh instance reads Redis from its first call, so a deploy does not cold-start the database', async () => {
    const keyPrefix = 'deploy:';
    const { app: first } = await app({ redis: suite.redis.url, keyPrefix }, { providers: [Products] });
    await first.get(Products).findOne(3);
    expect(await eventually(async () => (await suite.raw.exists('deploy:{product:3}')) === 1)).toBe(true);
    const { app: second, cache } = await app({ redis: suite.redis.url, keyPrefix }, { providers: [Products] });
    expect(await second.get(Products).findOne(3)).toEqual({ id: 3, name: 'p3' });
    expect(second.get(Products).calls).toBe(0);
    expect(cache.stats().l2.hits).toBe(1);
  });

  it('back-fills L1 for no longer than the entry has left in Redis', async () => {
    const keyPrefix = 'backfill:';
    const { cache: writer } = await app({ redis: suite.redis.url, keyPrefix, l1: false });
    await writer.set('short', 'v', { ttl: 300 });
    const { cache: reader } = await app({ redis: suite.redis.url, keyPrefix, l1: { ttl: 60_000 } });
    expect(await reader.get('short')).toBe('v');
    expect(reader.stats().l1.entries).toBe(1);
    await sleep(400);
    expect(await reader.get('short')).toBeUndefined();
  });

  it('expires entries from L1 after l1.ttl and from Redis after ttl', async () => {
    const { cache } = await app({ redis: suite.redis.url, l1: { ttl: 100 } });
    let loads = 0;
    const load = () => cache.getOrSet('k', async () => ++loads, { ttl: 400 });
    expect(await load()).toBe(1);
    await sleep(150);
    // Gone from L1, still in Redis.
    expect(await load()).toBe(1);
    expect(cache.stats().l2.hits).toBe(1);
    await sleep(400);
    expect(await load()).toBe(2);
  });

  it('with l1: false, every read goes to Redis', async () => {
    const { cache } = await app({ redis: suite.redis.url, l1: false });
    await cache.set('x', 1);
    const gets = await commandCalls(suite.raw, 'get');
    expect(await cache.get('x')).toBe(1);
    expect(await cache.get('x')).toBe(1);
    expect(await commandCalls(suite.raw, 'get')).toBe(gets + 2);
  });

  it('with redis: false, L1 is the only tier and keeps entries for their ttl', async () => {
    const { cache } = await app({ redis: false, l1: { ttl: 50 } });
    let loads = 0;
    await cache.getOrSet('k', async () => ++loads, { ttl: 10_000 });
    await sleep(100);
    expect(await cache.getOrSet('k', async () => ++loads)).toBe(1);
    expect(cache.stats().l2.enabled).toBe(false);
  });

  it('get() returns undefined for a missing key and del() removes from both tiers', async () => {
    const keyPrefix = 'del:';
    const { cache } = await app({ redis: suite.redis.url, keyPrefix });
    expect(await cache.get('nope')).toBeUndefined();
    await cache.set('a', { v: 1 });
    await cache.set('b', { v: 2 });
    await cache.del(['a', 'b']);
    expect(await cache.get('a')).toBeUndefined();
    expect(await suite.raw.exists('del:{a}', 'del:{b}')).toBe(0);
  });

  it('clear() removes only this prefix, with SCAN and UNLINK (never KEYS or FLUSHDB)', async () => {
    const { cache: mine } = await app({ redis: suite.redis.url, keyPrefix: 'mine:' });
    const { cache: theirs } = await app({ redis: suite.redis.url, keyPrefix: 'theirs:' });
    for (let i = 0; i < 1_200; i++) await mine.set(`k${i}`, i);
    await theirs.set('keep', 'me');
    const keysBefore = await commandCalls(suite.raw, 'keys');
    await mine.clear();
    // Left: the clear marker alone (it orders later-landing older writes after the clear, see README).
    expect(await suite.raw.scan('0', 'MATCH', 'mine:*', 'COUNT', 10_000)).toEqual(['0', ['mine:__clear:v1']]);
    expect(await suite.raw.pttl('mine:__clear:v1')).toBeGreaterThan(0);
    expect(await mine.get('k1')).toBeUndefined();
    expect(await theirs.get('keep')).toBe('me');
    expect(await commandCalls(suite.raw, 'keys')).toBe(keysBefore);
    expect(await commandCalls(suite.raw, 'flushdb')).toBe(0);
    expect(await commandCalls(suite.raw, 'unlink')).toBeGreaterThan(0);
  });

  it('concurrent misses for one key share one loader call (200 callers)', async () => {
    const { cache } = await app({ redis: suite.redis.url });
    let loads = 0;
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        cache.getOrSet('hot', async () => {
          loads++;
          await sleep(30);
          return { n: loads };
        }),
      ),
    );
    expect(loads).toBe(1);
    expect(new Set(results).size).toBe(1);
    expect(cache.stats().loads.coalesced).toBe(199);
  });

  it('accepts any string as a key: spaces, unicode, glob characters, newlines, very long keys', async () => {
    const keyPrefix = 'odd:';
    const { cache } = await app({ redis: suite.redis.url, keyPrefix, l1: false });
    const keys = ['a b', 'ключ 🔑', 'p*[x]?', 'line\nbreak', '{braces}', '}starts-with-a-brace', 'x'.repeat(5_000)];
    for (const [i, k] of keys.entries()) await cache.set(k, i);
    for (const [i, k] of keys.entries()) expect(await cache.get(k)).toBe(i);
    // The long key is stored under a hash, not its full length.
    // Entries only: a set() also leaves the key's write version (`…:ver`) for a while.
    const stored = (await suite.raw.scan('0', 'MATCH', 'odd:*', 'COUNT', 1_000))[1].filter((k) => !k.endsWith(':ver'));
    expect(stored).toHaveLength(keys.length);
    expect(Math.max(...stored.map((k) => k.length))).toBeLessThan(300);
    await cache.clear();
    expect(await cache.get('p*[x]?')).toBeUndefined();
  });

  it('rejects an empty or non-string key with a clear error', async () => {
    const { cache } = await app({ redis: suite.redis.url });
    await expect(async () => cache.get('')).rejects.toThrow(/non-empty string key/);
    expect(() => cache.getOrSet(42 as unknown as string, async () => 1)).toThrow(/non-empty string key/);
  });
});
