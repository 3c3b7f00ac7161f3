import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { eventually, sleep } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('values: what is cached, what is not', () => {
  const suite = redisSuite();
  const cacheWith = (options: TieredCacheModuleOptions = {}) => suite.cacheWith(options);

  it.each([
    ['0', 0],
    ['false', false],
    ["''", ''],
    ['[]', []],
    ['{}', {}],
  ])('caches %s as a value, never as a miss, in both tiers', async (_name, value) => {
    for (const l1 of [undefined, false] as const) {
      const cache = await cacheWith({ l1 });
      let loads = 0;
      const load = () =>
        cache.getOrSet('falsy', async () => {
          loads++;
          return value;
        });
      expect(await load()).toEqual(value);
      await eventually(async () => (await cache.get('falsy')) !== undefined, 1_000);
      expect(await load()).toEqual(value);
      expect(await cache.get('falsy')).toEqual(value);
      expect(loads).toBe(1);
    }
  });

  it('caches null for nullTtl (negative caching) and get() returns null, not undefined', async () => {
    const cache = await cacheWith({ nullTtl: 200, l1: false });
    let loads = 0;
    const load = () =>
      cache.getOrSet('missing-row', async () => {
        loads++;
        return null;
      });
    expect(await load()).toBeNull();
    await eventually(async () => (await cache.get('missing-row')) === null, 1_000);
    expect(await load()).toBeNull();
    expect(loads).toBe(1);
    await sleep(300);
    expect(await cache.get('missing-row')).toBeUndefined();
    await load();
    expect(loads).toBe(2);
  });

  it('caches an undefined result like null, and returns undefined for it', async () => {
    const cache = await cacheWith({ nullTtl: 10_000, l1: false });
    let loads = 0;
    const load = () => cache.getOrSet('void', async () => void loads++);
    expect(await load()).toBeUndefined();
    await sleep(20);
    expect(await load()).toBeUndefined();
    expect(loads).toBe(1);
  });

  it('nullTtl: 0 does not cache null results', async () => {
    const cache = await cacheWith({ nullTtl: 0 });
    let loads = 0;
    await cache.getOrSet('n', async () => {
      loads++;
      return null;
    });
    await cache.getOrSet('n', async () => {
      loads++;
      return null;
    });
    expect(loads).toBe(2);
  });

  it('never caches an error, and every coalesced caller gets that error', async () => {
    const cache = await cacheWith();
    let loads = 0;
    const boom = new Error('db down');
    const calls = Array.from({ length: 20 }, () =>
      cache.getOrSet('fails', async () => {
        loads++;
        await sleep(20);
        throw boom;
      }),
    );
    const outcomes = await Promise.allSettled(calls);
    expect(loads).toBe(1);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === boom)).toBe(true);
    expect(await cache.get('fails')).toBeUndefined();
    expect(await cache.getOrSet('fails', async () => 'recovered')).toBe('recovered');
    expect(cache.stats().loads.errors).toBe(1);
  });

  it('returns an unserializable result to its caller, does not cache it, and counts it', async () => {
    const cache = await cacheWith();
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    let loads = 0;
    for (const value of [circular, { big: 10n }]) {
      const got = await cache.getOrSet(`bad-${loads}`, async () => {
        loads++;
        return value;
      });
      expect(got).toBe(value);
      expect(await cache.get(`bad-${loads - 1}`)).toBeUndefined();
    }
    expect(cache.stats().serializationErrors).toBe(2);
  });

  it('treats an entry that does not decode as a miss: deleted, counted, never thrown', async () => {
    const keyPrefix = 'corrupt:';
    const cache = await cacheWith({ keyPrefix, l1: false });
    await suite.raw.set('corrupt:{a}', Buffer.from([0xff, 0x00, 0x13, 0x37]));
    await suite.raw.set('corrupt:{b}', '["tc0",0,0,0,0,"old format"]');
    await suite.raw.set('corrupt:{c}', '{"not":"an envelope"}');
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.getOrSet('b', async () => 'fresh')).toBe('fresh');
    expect(await cache.get('c')).toBeUndefined();
    expect(cache.stats().l2.corrupt).toBe(3);
    expect(await eventually(async () => (await suite.raw.exists('corrupt:{a}', 'corrupt:{c}')) === 0)).toBe(true);
  });

  it('msgpack keeps Date, Map, Set, BigInt and binary values', async () => {
    const cache = await cacheWith({ serializer: 'msgpack', l1: false });
    const value = {
      at: new Date('2026-01-02T03:04:05.000Z'),
      map: new Map([['a', 1]]),
      set: new Set([1, 2]),
      big: 2n ** 70n,
      bytes: Buffer.from('hi'),
      nothing: null,
    };
    await cache.set('rich', value);
    const back = await cache.get<typeof value>('rich');
    expect(back?.at).toBeInstanceOf(Date);
    expect(back?.at.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(back?.map).toEqual(new Map([['a', 1]]));
    expect(back?.set).toEqual(new Set([1, 2]));
    expect(back?.big).toBe(2n ** 70n);
    expect(Buffer.from(back!.bytes).toString()).toBe('hi');
    await cache.set('zero', 0);
    await cache.set('null', null);
    expect(await cache.get('zero')).toBe(0);
    expect(await cache.get('null')).toBeNull();
  });

  it('JSON turns Dates into strings (documented), and keeps plain data exactly', async () => {
    const cache = await cacheWith({ l1: false });
    await cache.set('d', { at: new Date('2026-01-02T00:00:00.000Z'), n: [1, 'two', { three: 3 }] });
    expect(await cache.get('d')).toEqual({ at: '2026-01-02T00:00:00.000Z', n: [1, 'two', { three: 3 }] });
  });

  it('uses a custom serializer for the payload', async () => {
    let used = 0;
    const cache = await cacheWith({
      l1: false,
      serializer: {
        serialize: (v) => {
          used++;
          return Buffer.from(`custom:${JSON.stringify(v)}`);
        },
        deserialize: (b) => JSON.parse(b.toString().slice('custom:'.length)),
      },
    });
    await cache.set('c', { x: 1 });
    await cache.set('n', null);
    expect(await cache.get('c')).toEqual({ x: 1 });
    expect(await cache.get('n')).toBeNull();
    expect(used).toBe(1);
  });

  it('bounds L1 by bytes when l1.maxSize is set', async () => {
    const cache = await cacheWith({ l1: { max: 10_000, maxSize: 20_000 } });
    const kb = 'x'.repeat(1_000);
    for (let i = 0; i < 100; i++) await cache.set(`b${i}`, kb);
    const { bytes, entries } = cache.stats().l1;
    expect(bytes).toBeLessThanOrEqual(20_000);
    expect(entries).toBeLessThan(25);
    expect(entries).toBeGreaterThan(10);
  });

  it('bounds L1 by entries (l1.max), least recently used first', async () => {
    const cache = await cacheWith({ redis: false, l1: { max: 3 } });
    for (const k of ['a', 'b', 'c']) await cache.set(k, k);
    await cache.get('a');
    await cache.set('d', 'd');
    expect(cache.stats().l1.entries).toBe(3);
    expect(await cache.get('b')).toBeUndefined();
    expect(await cache.get('a')).toBe('a');
  });
});
