import { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TieredCacheConfigError } from 'nestjs-tiered-cache';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { MAX_LEASE_HOLD } from '../../../lib/options/entry-policy.js';
import { DEFAULTS, resolveOptions } from '../../../lib/options/resolve-options.js';

/** Options as a user might write them in plain JavaScript or from a config file (no type check). */
const resolve = (options: Record<string, unknown> | undefined, otherSharedTier = false) =>
  resolveOptions(options as TieredCacheModuleOptions | undefined, otherSharedTier);
const URL = 'redis://127.0.0.1:6379';

/**
 * The error a user meets for a bad option: a TieredCacheConfigError whose message names the
 * option and the fix (each `parts` entry must appear in it).
 */
function expectConfigError(options: Record<string, unknown> | undefined, option: string, ...parts: string[]): void {
  let thrown: unknown;
  try {
    resolve(options);
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `options ${JSON.stringify(options)} should be refused`).toBeInstanceOf(TieredCacheConfigError);
  const message = (thrown as Error).message;
  // Given at module level: no "of <where>" after the option's name.
  expect(message).toContain(`nestjs-tiered-cache: invalid option "${option}": `);
  for (const part of parts) expect(message).toContain(part);
}

describe('resolveOptions: the documented defaults', () => {
  it('fills every default of the README table when no options are given', () => {
    const expected = {
      redis: false,
      keyPrefix: 'tiered-cache:',
      entry: {
        ttl: 60_000,
        // L1 is the only tier without Redis: entries live there for their whole TTL.
        l1Ttl: Infinity,
        nullTtl: 5_000,
        lock: true,
        grace: 0,
        graceBackoff: 5_000,
        softTimeout: 0,
        hardTimeout: 0,
        earlyRefresh: 1,
        jitter: 0,
        tags: undefined,
        unless: undefined,
        resultPolicy: undefined,
        leaseHold: MAX_LEASE_HOLD,
      },
      l1: { max: 10_000, ttl: 10_000, maxSize: undefined, sizeCalculation: undefined },
      serializer: 'json',
      l2Timeout: 250,
      connectTimeout: 2_000,
      maxKeyLength: 256,
      leaseTtl: 2_000,
      lockWaitTimeout: 5_000,
      onLockTimeout: 'load',
      bus: true,
      tracking: true,
      tagTtl: 86_400_000,
      breaker: { threshold: 5, openFor: 1_000 },
      keyContext: undefined,
      maxValueBytes: 8 * 1024 * 1024,
    };
    expect(resolveOptions(undefined)).toStrictEqual(expected);
    expect(resolveOptions({})).toStrictEqual(expected);
    expect(MAX_LEASE_HOLD).toBe(60_000);
  });

  it('keeps L1 entries for l1.ttl when a shared tier exists, and for their whole life when L1 is the only tier', () => {
    expect(resolve({ redis: URL }).entry.l1Ttl).toBe(10_000);
    expect(resolve({ redis: URL, l1: { ttl: 3_000 } }).entry.l1Ttl).toBe(3_000);
    expect(resolve({ redis: false, l1: { ttl: 3_000 } }).entry.l1Ttl).toBe(Infinity);
    // A Keyv store is a shared tier too: L1 keeps its own, shorter TTL.
    expect(resolve({ redis: false }, true).entry.l1Ttl).toBe(10_000);
    expect(resolve({ l1: { ttl: 3_000 } }, true).entry.l1Ttl).toBe(3_000);
    // L1 disabled: the policy still has a finite L1 TTL (nothing is stored there anyway).
    const noL1 = resolve({ redis: URL, l1: false });
    expect(noL1.l1).toBe(false);
    expect(noL1.entry.l1Ttl).toBe(DEFAULTS.l1Ttl);
  });

  it('caps nullTtl by ttl: a null result never outlives a real one', () => {
    expect(resolve({ ttl: 1_000 }).entry.nullTtl).toBe(1_000);
    expect(resolve({ ttl: 1_000, nullTtl: 200 }).entry.nullTtl).toBe(200);
    expect(resolve({ ttl: 1_000, nullTtl: 1_000 }).entry.nullTtl).toBe(1_000);
    expect(resolve({ ttl: 1_000, nullTtl: 5_000 }).entry.nullTtl).toBe(1_000);
    expect(resolve({ nullTtl: 0 }).entry.nullTtl).toBe(0);
  });

  it('derives leaseHold from hardTimeout, else holds the lease at most MAX_LEASE_HOLD', () => {
    expect(resolve({ hardTimeout: 1_500 }).entry.leaseHold).toBe(1_500);
    expect(resolve({ hardTimeout: 0 }).entry.leaseHold).toBe(MAX_LEASE_HOLD);
  });

  it('takes every option given instead of its default', () => {
    const keyContext = () => 'tenant';
    const sizeCalculation = () => 1;
    const serializer = { serialize: (v: unknown) => Buffer.from(String(v)), deserialize: (b: Buffer) => b.toString() };
    const r = resolve({
      redis: URL,
      keyPrefix: 'shop:',
      ttl: 30_000,
      nullTtl: 1_000,
      lock: false,
      grace: 2_000,
      graceBackoff: 700,
      softTimeout: 20,
      hardTimeout: 900,
      earlyRefresh: false,
      jitter: 0.25,
      l1: { max: 5, ttl: 400, maxSize: 1_024, sizeCalculation },
      serializer,
      l2Timeout: 40,
      connectTimeout: 0,
      maxKeyLength: 64,
      leaseTtl: 300,
      lockWaitTimeout: 0,
      onLockTimeout: 'error',
      bus: false,
      tracking: false,
      tagTtl: 1_000,
      breaker: { threshold: 1, openFor: 9 },
      keyContext,
      maxValueBytes: 1,
      isGlobal: true,
    });
    expect(r).toStrictEqual({
      redis: URL,
      keyPrefix: 'shop:',
      entry: {
        ttl: 30_000,
        l1Ttl: 400,
        nullTtl: 1_000,
        lock: false,
        grace: 2_000,
        graceBackoff: 700,
        softTimeout: 20,
        hardTimeout: 900,
        earlyRefresh: false,
        jitter: 0.25,
        tags: undefined,
        unless: undefined,
        resultPolicy: undefined,
        leaseHold: 900,
      },
      l1: { max: 5, ttl: 400, maxSize: 1_024, sizeCalculation },
      serializer,
      l2Timeout: 40,
      connectTimeout: 0,
      maxKeyLength: 64,
      leaseTtl: 300,
      lockWaitTimeout: 0,
      onLockTimeout: 'error',
      bus: false,
      tracking: false,
      tagTtl: 1_000,
      breaker: { threshold: 1, openFor: 9 },
      keyContext,
      maxValueBytes: 1,
    });
    expect(r.keyContext).toBe(keyContext);
    expect(r.serializer).toBe(serializer);
  });

  it('takes the built-in serializers by name', () => {
    expect(resolve({ serializer: 'json' }).serializer).toBe('json');
    expect(resolve({ serializer: 'msgpack' }).serializer).toBe('msgpack');
  });

  it('turns the breaker off with false and fills the half it is not given', () => {
    expect(resolve({ breaker: false }).breaker).toBe(false);
    expect(resolve({ breaker: {} }).breaker).toEqual({ threshold: 5, openFor: 1_000 });
    expect(resolve({ breaker: { threshold: 2 } }).breaker).toEqual({ threshold: 2, openFor: 1_000 });
    expect(resolve({ breaker: { openFor: 50 } }).breaker).toEqual({ threshold: 5, openFor: 50 });
  });
});

describe('resolveOptions: bad module options fail at bootstrap, naming the option and the fix', () => {
  it('refuses options that are not an object', () => {
    expectConfigError('redis://x' as unknown as Record<string, unknown>, 'options', 'pass an object to TieredCacheModule.forRoot({ ... })');
  });

  it('refuses an unknown option and lists the known ones (a typo is not silently ignored)', () => {
    expectConfigError({ tll: 1_000 }, 'tll', 'unknown option; the options are redis, keyPrefix, l1, serializer');
    // Entry options are module options too, but l1Ttl is spelled l1.ttl at module level.
    expectConfigError({ ttl: 1_000, l1Ttl: 1_000 }, 'l1Ttl', 'unknown option', 'jitter');
    for (const name of ['isGlobal', 'grace', 'jitter', 'maxValueBytes', 'keyContext']) {
      expect(() => resolve({ [name]: undefined }), name).not.toThrow();
    }
  });

  it('refuses a keyPrefix that is not a string', () => {
    expectConfigError({ keyPrefix: 7 }, 'keyPrefix', "give a string such as 'shop:'");
    expect(resolve({ keyPrefix: '' }).keyPrefix).toBe('');
  });

  // [option, smallest accepted value]: durations that may be 0 and those that must be >= 1.
  const durations: [string, 0 | 1][] = [
    ['ttl', 1],
    ['nullTtl', 0],
    ['grace', 0],
    ['graceBackoff', 0],
    ['softTimeout', 0],
    ['hardTimeout', 0],
    ['l2Timeout', 1],
    ['connectTimeout', 0],
    ['maxKeyLength', 1],
    ['leaseTtl', 1],
    ['lockWaitTimeout', 0],
    ['tagTtl', 1],
  ];

  it.each(durations)('%s: a number of milliseconds >= %i, else an error with the bound, an example and the bad value', (name, min) => {
    const fallback = (DEFAULTS as unknown as Record<string, number>)[name] ?? 0;
    expect(resolve({ [name]: min })).toBeDefined();
    expect(resolve({ [name]: 1.5 })).toBeDefined();
    const fix = `give a duration in milliseconds (a number >= ${min}), e.g. ${fallback}`;
    expectConfigError({ [name]: min - 1 }, name, fix, `got ${min - 1}`);
    expectConfigError({ [name]: -0.5 }, name, fix, 'got -0.5');
    expectConfigError({ [name]: Number.NaN }, name, fix, 'got NaN');
    expectConfigError({ [name]: Infinity }, name, fix, 'got Infinity');
    // A string from an environment variable is a common slip: quoted, so '100' and 100 read apart.
    expectConfigError({ [name]: '100' }, name, fix, "got '100'");
    expectConfigError({ [name]: null }, name, fix, 'got null');
  });

  it.each(['lock', 'bus', 'tracking'])('%s: true or false', (name) => {
    const r = resolve({ [name]: false });
    expect(name === 'lock' ? r.entry.lock : r[name as 'bus' | 'tracking']).toBe(false);
    expectConfigError({ [name]: 'yes' }, name, "give true or false; got 'yes'");
    expectConfigError({ [name]: 1 }, name, 'give true or false; got 1');
  });

  it('earlyRefresh: a beta > 0 or false', () => {
    expect(resolve({ earlyRefresh: 0.01 }).entry.earlyRefresh).toBe(0.01);
    expect(resolve({ earlyRefresh: 3 }).entry.earlyRefresh).toBe(3);
    expect(resolve({ earlyRefresh: false }).entry.earlyRefresh).toBe(false);
    const fix = 'give a beta > 0 (1 is the usual), or false';
    expectConfigError({ earlyRefresh: 0 }, 'earlyRefresh', fix, 'got 0');
    expectConfigError({ earlyRefresh: -1 }, 'earlyRefresh', fix, 'got -1');
    expectConfigError({ earlyRefresh: Infinity }, 'earlyRefresh', fix, 'got Infinity');
    expectConfigError({ earlyRefresh: Number.NaN }, 'earlyRefresh', fix, 'got NaN');
    expectConfigError({ earlyRefresh: true }, 'earlyRefresh', fix, 'got true');
    expectConfigError({ earlyRefresh: '1' }, 'earlyRefresh', fix, "got '1'");
  });

  it('jitter: a fraction from 0 to 1, both ends included', () => {
    for (const j of [0, 0.5, 1]) expect(resolve({ jitter: j }).entry.jitter).toBe(j);
    const fix = 'give a fraction from 0 to 1, e.g. 0.1 for up to 10% shorter TTLs';
    expectConfigError({ jitter: -0.01 }, 'jitter', fix, 'got -0.01');
    expectConfigError({ jitter: 1.01 }, 'jitter', fix, 'got 1.01');
    expectConfigError({ jitter: Number.NaN }, 'jitter', fix, 'got NaN');
    expectConfigError({ jitter: '0.1' }, 'jitter', fix, "got '0.1'");
  });

  it("onLockTimeout: 'load' or 'error'", () => {
    expect(resolve({ onLockTimeout: 'load' }).onLockTimeout).toBe('load');
    expectConfigError({ onLockTimeout: 'throw' }, 'onLockTimeout', "give one of 'load', 'error'");
  });

  it('breaker: { threshold, openFor } or false', () => {
    expectConfigError({ breaker: true }, 'breaker', 'give { threshold, openFor } or false');
    expectConfigError({ breaker: null }, 'breaker', 'give { threshold, openFor } or false');
    expectConfigError({ breaker: 5 }, 'breaker', 'give { threshold, openFor } or false');
    expectConfigError({ breaker: { treshold: 3 } }, 'breaker.treshold', 'unknown option; use threshold and openFor');
    for (const threshold of [0, -1, 1.5, '3', Number.NaN]) {
      expectConfigError({ breaker: { threshold } }, 'breaker.threshold', 'give a whole number of failures >= 1');
    }
    expectConfigError({ breaker: { openFor: 0 } }, 'breaker.openFor', 'a number >= 1', 'e.g. 1000', 'got 0');
  });

  it('keyContext: a function, returned as given', () => {
    expectConfigError({ keyContext: 'tenant' }, 'keyContext', 'give a function returning the current tenant (a string) or undefined');
  });

  it('maxValueBytes: a whole number of bytes >= 1', () => {
    expect(resolve({ maxValueBytes: 1 }).maxValueBytes).toBe(1);
    expect(resolve({ maxValueBytes: 1_000 }).maxValueBytes).toBe(1_000);
    for (const [v, got] of [
      [0, '0'],
      [-1, '-1'],
      [1.5, '1.5'],
      ['1024', '1024'],
      [2 ** 53, String(2 ** 53)],
      [Infinity, 'Infinity'],
    ] as const) {
      expectConfigError({ maxValueBytes: v }, 'maxValueBytes', 'give a whole number of bytes >= 1, e.g. 8388608 (8 MiB)', `got ${got}`);
    }
  });

  it('l1: { max, ttl, maxSize?, sizeCalculation? } or false', () => {
    for (const l1 of [true, null, 5, 'lru']) expectConfigError({ redis: URL, l1 }, 'l1', 'give { max, ttl, maxSize? } or false');
    expectConfigError({ l1: { maxEntries: 5 } }, 'l1.maxEntries', 'unknown option; the L1 options are max, ttl, maxSize, sizeCalculation');
    expect(resolve({ l1: { max: 1 } }).l1).toMatchObject({ max: 1 });
    for (const max of [0, -3, 2.5, '10', Number.NaN]) expectConfigError({ l1: { max } }, 'l1.max', 'give a whole number of entries >= 1');
    expectConfigError({ l1: { ttl: 0 } }, 'l1.ttl', 'give a duration in milliseconds (a number >= 1), e.g. 10000', 'got 0');
    expect(resolve({ l1: { maxSize: 1 } }).l1).toMatchObject({ maxSize: 1 });
    for (const maxSize of [0, 1.5, '1mb', null]) expectConfigError({ l1: { maxSize } }, 'l1.maxSize', 'give a whole number of bytes >= 1, or leave it out');
    expectConfigError({ l1: { sizeCalculation: 10 } }, 'l1.sizeCalculation', 'give a function (value, key) => bytes');
  });

  it('l1: false needs another tier: with redis: false it would leave no cache at all', () => {
    expectConfigError({ l1: false }, 'l1', 'with redis: false, L1 is the only tier: keep it, or configure redis');
    expectConfigError({ redis: false, l1: false }, 'l1', 'L1 is the only tier');
    expect(resolve({ l1: false }, true).l1).toBe(false);
  });

  it("serializer: 'json', 'msgpack' or { serialize, deserialize }", () => {
    const fix = "use 'json', 'msgpack' or an object { serialize(value), deserialize(buffer) }";
    const serialize = (v: unknown) => Buffer.from(String(v));
    for (const serializer of ['xml', null, 7, {}, { serialize }, { deserialize: serialize }, { serialize, deserialize: 'json' }]) {
      expectConfigError({ serializer }, 'serializer', fix);
    }
  });
});

describe('resolveOptions: the redis option', () => {
  const clients: (Redis | Cluster)[] = [];
  afterAll(() => {
    for (const c of clients) c.disconnect();
  });

  it('leaves Redis out when it is false, null or not given (L1 only)', () => {
    expect(resolve({}).redis).toBe(false);
    expect(resolve({ redis: false }).redis).toBe(false);
    expect(resolve({ redis: null }).redis).toBe(false);
  });

  it('takes redis:// and rediss:// URLs as given', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://cache.example.com:6380/2', 'redis://:secret@10.0.0.1']) {
      expect(resolve({ redis: url }).redis).toBe(url);
    }
  });

  it('refuses a string that is not a Redis URL, without repeating its password', () => {
    expectConfigError({ redis: 'localhost:6379' }, 'redis', `"localhost:6379" is not a Redis URL; use e.g. 'redis://127.0.0.1:6379'`);
    expectConfigError({ redis: 'xredis://127.0.0.1' }, 'redis', 'is not a Redis URL');
    expectConfigError({ redis: 'redis:/127.0.0.1' }, 'redis', 'is not a Redis URL');
    expectConfigError({ redis: 'http://user:hunter2@10.0.0.1:6379' }, 'redis', '"http://***@10.0.0.1:6379" is not a Redis URL');
    expect(() => resolve({ redis: 'http://user:hunter2@10.0.0.1:6379' })).not.toThrow(/hunter2/);
  });

  it('refuses a value of the wrong kind', () => {
    const fix = 'give a URL string, ioredis options, { cluster: [...nodes] }, an ioredis Redis/Cluster instance, or false';
    for (const redis of [6379, true, () => URL]) expectConfigError({ redis }, 'redis', fix);
  });

  it('takes ioredis options and client instances as given (a client passed in stays the user’s)', () => {
    const options = { host: '127.0.0.1', port: 6379, password: 'p' };
    expect(resolve({ redis: options }).redis).toBe(options);
    const redis = new Redis({ lazyConnect: true, port: 1 });
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    clients.push(redis, cluster);
    expect(resolve({ redis }).redis).toBe(redis);
    expect(resolve({ redis: cluster }).redis).toBe(cluster);
  });

  it('tells a list of nodes to be a Cluster config', () => {
    expectConfigError({ redis: [{ host: '127.0.0.1', port: 7000 }] }, 'redis', 'a list of nodes is a Cluster: give { cluster: [{ host, port }, ...] }');
  });

  it('takes { cluster: [...nodes], options? } with nodes as { host, port }, ports or "host:port"', () => {
    const config = {
      cluster: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2' }, { port: 7002 }, {}, 7003, 1, 65_535, '10.0.0.4:7004'],
      options: { redisOptions: { password: 'p' } },
    };
    expect(resolve({ redis: config }).redis).toBe(config);
    expect(resolve({ redis: { cluster: [7000] } }).redis).toEqual({ cluster: [7000] });
    expect(resolve({ redis: { cluster: [7000], options: undefined } }).redis).toEqual({ cluster: [7000], options: undefined });
  });

  it('refuses a Cluster config with misplaced settings, no nodes or bad nodes, naming the node', () => {
    expectConfigError(
      { redis: { cluster: [7000], password: 'p' } },
      'redis.password',
      'unknown option of a Cluster; give { cluster: [...nodes], options?: ClusterOptions } (node settings go in options.redisOptions)',
    );
    for (const cluster of [[], '10.0.0.1:7000', { host: '10.0.0.1' }, null]) {
      expectConfigError({ redis: { cluster } }, 'redis.cluster', "give the startup nodes, e.g. [{ host: '127.0.0.1', port: 7000 }]");
    }
    const badNodes = [0, -1, 65_536, 7000.5, '', null, true, { host: '' }, { host: 7 }, { port: 0 }, { port: 65_536 }, { port: 1.5 }, { port: '7000' }];
    for (const node of badNodes) {
      expectConfigError({ redis: { cluster: [7000, node] } }, 'redis.cluster[1]', "give { host, port }, a port number or 'host:port'");
    }
    for (const options of [null, 'x', [], 5]) {
      expectConfigError({ redis: { cluster: [7000], options } }, 'redis.options', 'give ioredis ClusterOptions, e.g. { redisOptions: { password } }');
    }
  });

  it('takes a Sentinel set-up with sentinels and the primary’s name, and refuses one without them', () => {
    const sentinel = { sentinels: [{ host: '10.0.0.1', port: 26379 }], name: 'mymaster' };
    expect(resolve({ redis: sentinel }).redis).toBe(sentinel);
    for (const sentinels of [[], 'host:26379', null]) {
      expectConfigError({ redis: { sentinels, name: 'mymaster' } }, 'redis.sentinels', "give the sentinels, e.g. [{ host: '127.0.0.1', port: 26379 }]");
    }
    for (const name of [undefined, '', 5]) {
      expectConfigError(
        { redis: { sentinels: sentinel.sentinels, name } },
        'redis.name',
        "give the name of the primary the sentinels monitor, e.g. 'mymaster'",
      );
    }
  });
});
