import 'reflect-metadata';
import { TieredCacheService } from 'nestjs-tiered-cache';
import { CACHE_MANAGER, type Cache, CacheModule, type CacheModuleOptions } from 'nestjs-tiered-cache/compat';
import { describe, expect, it, vi } from 'vitest';
import { redisSuite } from '../support/redis-suite.js';
import { ADAPTERS, type AdapterName, compatPrefix, eventually, listen } from './compat-app.js';

const MODULE_TTL = 10_000;
const DAY = 86_400_000;

describe.each<AdapterName>(ADAPTERS)('the injected cache (cache-manager 7 API) on %s', (adapter) => {
  const suite = redisSuite();

  async function start(options: CacheModuleOptions = {}) {
    const r = await listen(adapter, {
      imports: [CacheModule.register({ ttl: MODULE_TTL, redis: suite.redis.url, keyPrefix: compatPrefix(adapter), ...options })],
    });
    suite.closeAfter(r.app);
    return { ...r, cache: r.app.get<Cache>(CACHE_MANAGER), tiered: r.app.get(TieredCacheService) };
  }

  /** Asserts that `key` expires `ttl` ms after a moment inside `call`. */
  async function expectExpiry(cache: Cache, key: string, ttl: number, call: () => Promise<unknown>) {
    const before = Date.now();
    await call();
    const after = Date.now();
    const expires = await cache.ttl(key);
    expect(expires).toBeGreaterThanOrEqual(before + ttl);
    expect(expires).toBeLessThanOrEqual(after + ttl);
  }

  describe('get and set', () => {
    it('resolves undefined for a missing key and null for a stored null, here and on another instance', async () => {
      const { cache } = await start();
      const keyPrefix = compatPrefix(adapter);
      const a = await start({ keyPrefix });
      const b = await start({ keyPrefix });

      await a.cache.set('nothing', null);

      expect(await cache.get('missing')).toBeUndefined();
      expect(await a.cache.get('nothing')).toBeNull();
      expect(await b.cache.get('nothing')).toBeNull();
    });

    it("stores 0, false and '' as values", async () => {
      const { cache } = await start();

      await cache.mset<unknown>([
        { key: 'zero', value: 0 },
        { key: 'no', value: false },
        { key: 'empty', value: '' },
      ]);

      expect(await cache.mget(['zero', 'no', 'empty'])).toEqual([0, false, '']);
    });

    it('resolves set() to the value it stored', async () => {
      const { cache } = await start();
      const product = { id: 7, name: 'Burr grinder' };

      await expect(cache.set('product:7', product)).resolves.toBe(product);
      expect(await cache.get('product:7')).toEqual(product);
    });

    it("keeps a value for the module's ttl when set() gets none", async () => {
      const { cache } = await start();

      await expectExpiry(cache, 'k', MODULE_TTL, () => cache.set('k', 'v'));
    });

    it('keeps a value for the ttl given to set(), in milliseconds', async () => {
      const { cache } = await start();

      await expectExpiry(cache, 'k', 1_500, () => cache.set('k', 'v', 1_500));
    });

    it('keeps a value set with ttl 0 ("no expiry") for foreverTtl', async () => {
      const { cache } = await start();
      const custom = await start({ foreverTtl: 3_600_000 });

      await expectExpiry(cache, 'k', DAY, () => cache.set('k', 'v', 0));
      await expectExpiry(custom.cache, 'k', 3_600_000, () => custom.cache.set('k', 'v', 0));
    });

    it('keeps values for foreverTtl when the module has no ttl', async () => {
      const { cache } = await start({ ttl: undefined });

      await expectExpiry(cache, 'k', DAY, () => cache.set('k', 'v'));
    });

    it('removes the key on set(key, undefined)', async () => {
      const { cache } = await start();
      await cache.set('k', 'v');

      await cache.set('k', undefined);

      expect(await cache.get('k')).toBeUndefined();
    });

    it('rejects a negative ttl with a TypeError', async () => {
      const { cache } = await start();

      await expect(cache.set('k', 'v', -1)).rejects.toThrow(TypeError);
    });

    it('works with its methods destructured', async () => {
      const { cache } = await start();
      const { set, get, del } = cache;

      await set('k', 1);
      expect(await get('k')).toBe(1);
      await del('k');
      expect(await get('k')).toBeUndefined();
    });
  });

  describe('mget, mset, mdel', () => {
    it('mset() stores several values and resolves the list with each TTL filled in', async () => {
      const { cache } = await start();

      const list = await cache.mset([
        { key: 'a', value: 1 },
        { key: 'b', value: 2, ttl: 2_000 },
      ]);

      expect(list).toEqual([
        { key: 'a', value: 1, ttl: MODULE_TTL },
        { key: 'b', value: 2, ttl: 2_000 },
      ]);
      expect((await cache.ttl('b'))! - Date.now()).toBeLessThanOrEqual(2_000);
    });

    it('mget() resolves the values in order, undefined for the missing ones', async () => {
      const { cache } = await start();
      await cache.mset([
        { key: 'a', value: 'A' },
        { key: 'c', value: 'C' },
      ]);

      expect(await cache.mget(['a', 'b', 'c'])).toEqual(['A', undefined, 'C']);
    });

    it('mdel() removes several keys, here and on another instance', async () => {
      const keyPrefix = compatPrefix(adapter);
      const a = await start({ keyPrefix });
      const b = await start({ keyPrefix });
      await a.cache.mset([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
        { key: 'c', value: 3 },
      ]);
      expect(await b.cache.mget(['a', 'b'])).toEqual([1, 2]);

      await expect(a.cache.mdel(['a', 'b'])).resolves.toBe(true);

      expect(await a.cache.mget(['a', 'b', 'c'])).toEqual([undefined, undefined, 3]);
      expect(await eventually(async () => (await b.cache.get('a')) === undefined && (await b.cache.get('b')) === undefined)).toBe(true);
    });
  });

  describe('del, clear, ttl', () => {
    it('del() resolves true and removes the key, here and on another instance', async () => {
      const keyPrefix = compatPrefix(adapter);
      const a = await start({ keyPrefix });
      const b = await start({ keyPrefix });
      await a.cache.set('k', 'v');
      expect(await b.cache.get('k')).toBe('v');

      await expect(a.cache.del('k')).resolves.toBe(true);

      expect(await a.cache.get('k')).toBeUndefined();
      expect(await eventually(async () => (await b.cache.get('k')) === undefined)).toBe(true);
    });

    it("clear() removes every key of this cache and none of another cache's", async () => {
      const mine = await start();
      const other = await start();
      await mine.cache.mset([
        { key: 'a', value: 1 },
        { key: 'b', value: 2 },
      ]);
      await other.cache.set('a', 'other');

      await expect(mine.cache.clear()).resolves.toBe(true);

      expect(await mine.cache.mget(['a', 'b'])).toEqual([undefined, undefined]);
      expect(await other.cache.get('a')).toBe('other');
    });

    it('ttl() resolves the expiry in epoch milliseconds, undefined for a missing key', async () => {
      const { cache } = await start();

      await expectExpiry(cache, 'k', 5_000, () => cache.set('k', 'v', 5_000));
      expect(await cache.ttl('missing')).toBeUndefined();
    });

    it('ttl() reads the expiry from Redis when L1 is off', async () => {
      const { cache } = await start({ l1: false });

      await expectExpiry(cache, 'k', 5_000, () => cache.set('k', 'v', 5_000));
    });

    it("ttl() reads the tenant's entry with keyContext", async () => {
      let tenant = 'acme';
      const { cache } = await start({ keyContext: () => tenant, l1: false });

      await expectExpiry(cache, 'k', 5_000, () => cache.set('k', 'acme', 5_000));
      tenant = 'globex';
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.ttl('k')).toBeUndefined();
    });

    it('ttl() reads the expiry of a value written by another instance', async () => {
      const keyPrefix = compatPrefix(adapter);
      const a = await start({ keyPrefix });
      const b = await start({ keyPrefix });

      await expectExpiry(b.cache, 'k', 5_000, () => a.cache.set('k', 'v', 5_000));
    });
  });

  describe('wrap', () => {
    it('runs the function once for concurrent calls and caches its result', async () => {
      const { cache } = await start();
      const fn = vi.fn(async () => ({ id: 1 }));

      const results = await Promise.all(Array.from({ length: 50 }, () => cache.wrap('w', fn)));

      expect(new Set(results).size).toBe(1);
      expect(results[0]).toEqual({ id: 1 });
      expect(await cache.wrap('w', fn)).toEqual({ id: 1 });
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('runs the function once across two instances sharing the Redis', async () => {
      const keyPrefix = compatPrefix(adapter);
      const a = await start({ keyPrefix });
      const b = await start({ keyPrefix });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const fn = vi.fn(async () => {
        await gate;
        return 'loaded once';
      });

      const fromA = a.cache.wrap('w', fn);
      expect(await eventually(() => fn.mock.calls.length === 1)).toBe(true);
      const fromB = b.cache.wrap('w', fn);
      expect(await eventually(() => b.tiered.stats().lease.waits === 1)).toBe(true);
      release();

      expect(await Promise.all([fromA, fromB])).toEqual(['loaded once', 'loaded once']);
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('keeps the result for the ttl given, as a number or in an options object', async () => {
      const { cache } = await start();

      await expectExpiry(cache, 'n', 3_000, () => cache.wrap('n', () => 'v', 3_000));
      await expectExpiry(cache, 'o', 4_000, () => cache.wrap('o', () => 'v', { ttl: 4_000 }));
      await expectExpiry(cache, 'd', MODULE_TTL, () => cache.wrap('d', () => 'v'));
    });

    it('takes the ttl from a function of the result', async () => {
      const { cache } = await start();

      await expectExpiry(cache, 'f', 6_000, () =>
        cache.wrap(
          'f',
          () => ({ ttl: 6_000 }),
          (v) => v.ttl,
        ),
      );
    });

    it('caches a null result, and runs the function again after an undefined one', async () => {
      const { cache } = await start();
      const nullFn = vi.fn(() => null);
      const undefinedFn = vi.fn(() => undefined);

      await cache.wrap('null', nullFn);
      await cache.wrap('null', nullFn);
      await cache.wrap('undefined', undefinedFn);
      await cache.wrap('undefined', undefinedFn);

      expect(nullFn).toHaveBeenCalledTimes(1);
      expect(await cache.get('null')).toBeNull();
      expect(undefinedFn).toHaveBeenCalledTimes(2);
    });

    it('does not cache an error', async () => {
      const { cache } = await start();
      const fn = vi.fn().mockRejectedValueOnce(new Error('upstream down')).mockResolvedValueOnce('ok');

      await expect(cache.wrap('e', fn)).rejects.toThrow('upstream down');
      expect(await cache.wrap('e', fn)).toBe('ok');
      expect(fn).toHaveBeenCalledTimes(2);
    });

    it('returns the cached value and refreshes it in the background within refreshThreshold', async () => {
      const { cache } = await start();
      const refreshed = vi.fn();
      cache.on('refresh', refreshed);
      // A threshold longer than the TTL: every hit is within it.
      const options = { ttl: 5_000, refreshThreshold: 10_000 };

      expect(await cache.wrap('r', () => 'v1', options)).toBe('v1');
      expect(await cache.wrap('r', () => 'v2', options)).toBe('v1');
      expect(await eventually(() => refreshed.mock.calls.length === 1)).toBe(true);

      expect(refreshed).toHaveBeenCalledWith({ key: 'r', value: 'v2' });
      expect(await cache.get('r')).toBe('v2');
    });

    it("uses the module's refreshThreshold when wrap() gets none", async () => {
      const { cache } = await start({ ttl: 5_000, refreshThreshold: 10_000 });

      await cache.wrap('r', () => 'v1');
      await cache.wrap('r', () => 'v2');

      expect(await eventually(async () => (await cache.get('r')) === 'v2')).toBe(true);
    });

    it('keeps the cached value when a refresh fails, reporting the error', async () => {
      const { cache } = await start();
      const refreshed = vi.fn();
      cache.on('refresh', refreshed);
      const error = new Error('refresh failed');

      await cache.wrap('r', () => 'v1', 5_000, 10_000);
      await cache.wrap('r', () => Promise.reject(error), 5_000, 10_000);
      expect(await eventually(() => refreshed.mock.calls.length === 1)).toBe(true);

      expect(refreshed).toHaveBeenCalledWith({ key: 'r', value: 'v1', error });
      expect(await cache.get('r')).toBe('v1');
    });

    it('drops a refresh whose key was deleted meanwhile', async () => {
      const { cache } = await start();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const slow = vi.fn(async () => {
        await gate;
        return 'stale';
      });
      await cache.wrap('r', () => 'v1', 5_000, 10_000);
      await cache.wrap('r', slow, 5_000, 10_000);
      expect(await eventually(() => slow.mock.calls.length === 1)).toBe(true);

      await cache.del('r');
      release();
      await slow.mock.results[0]!.value;

      expect(await cache.get('r')).toBeUndefined();
    });

    it('resolves the value with its expiry with { raw: true }', async () => {
      const { cache } = await start();

      const loaded = await cache.wrap('raw', () => 'v', { ttl: 7_000, raw: true });
      const hit = await cache.wrap('raw', () => 'other', { ttl: 7_000, raw: true });

      expect(loaded).toEqual({ value: 'v', expires: await cache.ttl('raw') });
      expect(hit).toEqual(loaded);
    });
  });

  describe('events', () => {
    it('emits set, get, mset, mget, del, mdel and clear with cache-manager 7 payloads', async () => {
      const { cache } = await start();
      const seen: Array<[string, unknown]> = [];
      for (const e of ['set', 'get', 'mset', 'mget', 'del', 'mdel', 'clear'] as const) {
        cache.on(e, (data: unknown) => seen.push([e, data]));
      }

      await cache.set('k', 'v');
      await cache.get('k');
      await cache.mset([{ key: 'a', value: 1 }]);
      await cache.mget(['a', 'b']);
      await cache.del('k');
      await cache.mdel(['a']);
      await cache.clear();

      expect(seen).toEqual([
        ['set', { key: 'k', value: 'v' }],
        ['get', { key: 'k', value: 'v' }],
        ['mset', { list: [{ key: 'a', value: 1, ttl: MODULE_TTL }] }],
        ['mget', { keys: ['a', 'b'], values: [1, undefined] }],
        ['del', { key: 'k' }],
        ['mdel', { keys: ['a'] }],
        ['clear', undefined],
      ]);
    });

    it('stops calling a listener after off()', async () => {
      const { cache } = await start();
      const listener = vi.fn();
      cache.on('set', listener);
      await cache.set('a', 1);

      cache.off('set', listener);
      await cache.set('b', 2);

      expect(listener).toHaveBeenCalledTimes(1);
    });
  });

  describe('identity and connections', () => {
    it('has the cacheId given, a random one otherwise, and no Keyv stores', async () => {
      const named = await start({ cacheId: 'catalog' });
      const unnamed = await start();
      const other = await start();

      expect(named.cache.cacheId()).toBe('catalog');
      expect(unnamed.cache.cacheId()).not.toBe(other.cache.cacheId());
      expect(unnamed.cache.stores).toEqual([]);
    });

    it('closes its Redis connections on disconnect() and keeps serving from L1', async () => {
      const { cache, tiered } = await start();
      await cache.set('k', 'v');

      await expect(cache.disconnect()).resolves.toBeUndefined();

      expect(await eventually(() => !tiered.stats().l2.connected && !tiered.stats().bus.connected)).toBe(true);
      expect(await cache.get('k')).toBe('v');
      await expect(cache.set('k2', 'v2')).resolves.toBe('v2');
      expect(await cache.get('k2')).toBe('v2');
    });
  });
});
