import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { Packr } from 'msgpackr';
import { TieredCacheConfigError, type TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Envelope, toWire } from '../../lib/codec/envelope.js';
import { eventually, uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';
import { withoutVersions } from '../support/topology.js';

const MiB = 1024 * 1024;
const packr = new Packr({ structuredClone: true });

/**
 * Whoever can write to Redis can plant bytes under any key. These specs write them with a raw
 * client, in the library's own envelope format (an attacker can read it off any entry), and
 * check what a read makes of them.
 */
describe('untrusted bytes from Redis', () => {
  const suite = redisSuite();
  afterEach(() => vi.restoreAllMocks());

  type Serializer = 'json' | 'msgpack';

  /** A live envelope around `value`, encoded as `serializer` would, but by the attacker. */
  function plantable(serializer: Serializer, value: unknown, overrides: Partial<Envelope> = {}): string | Buffer {
    const now = Date.now();
    const wire = toWire({ value, createdAt: now, expiresAt: now + 60_000, staleUntil: now + 60_000, delta: 0, ...overrides });
    return serializer === 'json' ? JSON.stringify(wire) : packr.pack(wire);
  }

  /**
   * A cache reading Redis on every call (no L1), and a way to write bytes where its `key` lives:
   * the Redis key is found by letting the cache write the entry first, whatever the key layout.
   */
  async function target(serializer: Serializer, key: string, options: TieredCacheModuleOptions = {}) {
    const keyPrefix = uniquePrefix('planted');
    const cache = await suite.cacheWith({ keyPrefix, serializer, l1: false, ...options });
    await cache.set(key, 'genuine');
    const found = withoutVersions((await suite.raw.scan('0', 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000))[1]);
    expect(found).toHaveLength(1);
    const redisKey = found[0]!;
    return {
      cache,
      keyPrefix,
      redisKey,
      plant: (bytes: string | Buffer) => suite.raw.set(redisKey, bytes, 'PX', 60_000),
    };
  }

  /** Every object in `value` has Object.prototype (or Array.prototype) and no own `__proto__`. */
  function expectPlainData(value: unknown): void {
    if (typeof value !== 'object' || value === null) return;
    expect([Object.prototype, Array.prototype]).toContain(Object.getPrototypeOf(value));
    expect(Object.hasOwn(value, '__proto__')).toBe(false);
    for (const v of Object.values(value)) expectPlainData(v);
  }

  describe.each<Serializer>(['json', 'msgpack'])('decoding %s never mutates prototypes', (serializer) => {
    afterEach(() => {
      delete (Object.prototype as Record<string, unknown>).polluted;
    });

    it('reads a planted __proto__ payload as plain data: no prototype changed, now or when the app merges the value', async () => {
      const { cache, plant } = await target(serializer, 'profile:1');
      const payload = JSON.parse(
        '{"name":"eve","__proto__":{"polluted":"yes","isAdmin":true},' + '"nested":{"__proto__":{"polluted":"yes"}},"list":[{"__proto__":{"polluted":"yes"}}]}',
      );
      await plant(plantable(serializer, payload));

      const value = await cache.get<Record<string, any>>('profile:1');

      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(value?.name).toBe('eve');
      expect(value?.isAdmin).toBeUndefined();
      expect(value?.polluted).toBeUndefined();
      expectPlainData(value);
      // What an app typically does next with a cached object.
      expect((Object.assign({}, value) as Record<string, unknown>).isAdmin).toBeUndefined();
      expect(({ ...value } as Record<string, unknown>).isAdmin).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('reads a planted constructor.prototype payload as plain data', async () => {
      const { cache, plant } = await target(serializer, 'profile:2');
      const payload = JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}},"a":{"constructor":{"prototype":{"polluted":"yes"}}}}');
      await plant(plantable(serializer, payload));

      const value = await cache.get<Record<string, any>>('profile:2');

      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.keys(value!)).toEqual(['constructor', 'a']);
      expect(value?.polluted).toBeUndefined();
      expect((Object.assign({}, value) as Record<string, unknown>).polluted).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });

    it('treats an envelope with a non-finite expiry as corrupt, not as a value that never expires', async () => {
      const { cache, plant } = await target(serializer, 'forever');
      const now = Date.now();
      // JSON cannot carry Infinity (it becomes null, which is corrupt anyway); msgpack can.
      await plant(plantable(serializer, 'stale forever', { expiresAt: Infinity, staleUntil: Infinity, createdAt: now }));

      expect(await cache.get('forever')).toBeUndefined();
      expect(cache.stats().l2.corrupt).toBe(1);
    });
  });

  it('reads a JSON __proto__ key spelled with \\u escapes as plain data', async () => {
    const { cache, plant } = await target('json', 'escaped');
    const genuine = JSON.stringify(toWire({ value: 0, createdAt: Date.now(), expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 60_000, delta: 0 }));
    // The value slot is last: put hand-written JSON there, as an attacker would.
    const planted = `${genuine.slice(0, genuine.lastIndexOf(',') + 1)}{"\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true},"name":"eve"}]`;
    await plant(planted);

    const value = await cache.get<Record<string, unknown>>('escaped');

    expect(value).toEqual({ name: 'eve' });
    expect(value?.isAdmin).toBeUndefined();
    expect((Object.assign({}, value) as Record<string, unknown>).isAdmin).toBeUndefined();
    expectPlainData(value);
  });

  it('keeps values with \\u escapes and __proto__ in strings intact (the careful parse only drops keys)', async () => {
    const cache = await suite.cacheWith({ l1: false });
    const value = { text: 'a\u0001b "__proto__" \\u0041', list: ['__proto__'] };

    await cache.set('escapes', value);

    expect(await cache.get('escapes')).toEqual(value);
  });

  describe.each<Serializer>(['json', 'msgpack'])('maxValueBytes with %s', (serializer) => {
    it('does not decode stored bytes over maxValueBytes: a miss, counted as corrupt, deleted', async () => {
      const { cache, plant, redisKey } = await target(serializer, 'big', { maxValueBytes: 1_024 });
      await plant(plantable(serializer, 'x'.repeat(2_000)));

      expect(await cache.get('big')).toBeUndefined();
      expect(await cache.getOrSet('big', async () => 'small')).toBe('small');
      expect(cache.stats().l2.corrupt).toBe(1);
      expect(await eventually(async () => (await suite.raw.strlen(redisKey)) < 1_024)).toBe(true);
    });

    it('counts bytes, not characters: multi-byte text over the cap is refused, under it is read', async () => {
      const { cache, plant, redisKey } = await target(serializer, 'text', { maxValueBytes: 1_024 });
      await plant(plantable(serializer, '€'.repeat(400))); // 1,200 bytes in UTF-8, 400 characters
      expect(await cache.get('text')).toBeUndefined();
      // The refused entry is deleted in the background: plant the next one after that.
      expect(await eventually(async () => (await suite.raw.exists(redisKey)) === 0)).toBe(true);

      await plant(plantable(serializer, '€'.repeat(250))); // 750 bytes
      expect(await cache.get('text')).toBe('€'.repeat(250));
      expect(cache.stats().l2.corrupt).toBe(1);
    });

    it('does not write a result over maxValueBytes: the caller gets it, it is logged once, nothing is stored', async () => {
      const warn = vi.spyOn(Logger.prototype, 'warn');
      const keyPrefix = uniquePrefix('oversized');
      const cache = await suite.cacheWith({ keyPrefix, serializer, maxValueBytes: 1_024 });
      const big = 'x'.repeat(2_000);

      expect(await cache.getOrSet('big', async () => big)).toBe(big);
      expect(await cache.getOrSet('big', async () => big)).toBe(big);
      await cache.set('big', big);

      expect(await cache.get('big')).toBeUndefined();
      expect(withoutVersions((await suite.raw.scan('0', 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000))[1])).toEqual([]);
      expect(cache.stats().serializationErrors).toBe(3);
      const logged = warn.mock.calls.map(([m]) => String(m)).filter((m) => m.includes('maxValueBytes'));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain('"big"');
      // Just under the cap is cached as usual.
      await cache.set('fits', 'x'.repeat(900));
      expect(await cache.get('fits')).toBe('x'.repeat(900));
    });
  });

  it('refuses a planted value over the default cap of 8 MiB', async () => {
    const { cache, plant } = await target('json', 'huge');
    await plant(plantable('json', 'x'.repeat(9 * MiB)));

    expect(await cache.get('huge')).toBeUndefined();
    expect(cache.stats().l2.corrupt).toBe(1);
  });

  it.each([0, -1, 1.5, '8MB', Number.POSITIVE_INFINITY])('rejects maxValueBytes: %s at bootstrap, naming the option', async (maxValueBytes) => {
    const failure = suite.cacheWith({ maxValueBytes: maxValueBytes as number });

    await expect(failure).rejects.toBeInstanceOf(TieredCacheConfigError);
    await expect(failure).rejects.toThrow(/"maxValueBytes".*whole number of bytes/);
  });
});
