import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { createApp, eventually } from '../support/app.js';
import { freePort, rawClient, RedisServer } from '../support/redis-server.js';

describe('faults: Redis down, hung or restarting never fails a call', () => {
  let redis: RedisServer;
  const closers: (() => Promise<void>)[] = [];
  const cacheWith = async (options: TieredCacheModuleOptions) => {
    const created = await createApp(options);
    closers.push(() => created.app.close());
    return created.cache;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    redis.signal('SIGCONT');
    await redis.start();
    while (closers.length) await closers.pop()!();
  });
  afterAll(async () => redis.stop());

  it('answers from L1 and the loader while Redis is SIGKILLed, and caches in Redis again after a restart', async () => {
    const cache = await cacheWith({ redis: redis.url, l1: { ttl: 60_000 } });
    let loads = 0;
    const load = (k: string) => cache.getOrSet(k, async () => `${k}:${++loads}`);
    await load('warm');
    await redis.kill();
    expect(await load('warm')).toBe('warm:1'); // L1
    expect(await load('cold')).toBe('cold:2'); // loader, Redis unreachable
    expect(await cache.get('nothing')).toBeUndefined();
    await cache.set('written-while-down', 1);
    await cache.del('warm');
    expect(cache.stats().degraded).toBe(true);
    await redis.start();
    expect(await eventually(() => cache.stats().l2.connected, 10_000)).toBe(true);
    await load('after');
    const raw = rawClient(redis);
    try {
      const stored = async () => (await raw.scan('0', 'MATCH', '*{after}', 'COUNT', 1000))[1].length === 1;
      expect(await eventually(stored)).toBe(true);
    } finally {
      await raw.quit();
    }
    expect(cache.stats().degraded).toBe(false);
  });

  it('answers while Redis is hung (SIGSTOP): each Redis command is abandoned after l2Timeout', async () => {
    const cache = await cacheWith({ redis: redis.url, l1: false, l2Timeout: 100 });
    await cache.set('before', 'stored');
    redis.signal('SIGSTOP');
    const results = await Promise.all([
      cache.getOrSet('hung-1', async () => 'loaded-1'),
      cache.getOrSet('hung-2', async () => 'loaded-2'),
      cache.get('before'),
      cache.set('during', 1),
      cache.del('before'),
    ]);
    // Everything above resolved while Redis was still stopped.
    expect(results.slice(0, 3)).toEqual(['loaded-1', 'loaded-2', undefined]);
    expect(cache.stats().l2.timeouts).toBeGreaterThanOrEqual(4);
    redis.signal('SIGCONT');
    expect(await eventually(async () => (await cache.getOrSet('after', async () => 'x')) === 'x')).toBe(true);
  });

  it('an eviction that Redis could not confirm is not undone by reading Redis later', async () => {
    const cache = await cacheWith({ redis: redis.url, l1: false, l2Timeout: 100 });
    await cache.set('p', 'old');
    redis.signal('SIGSTOP');
    await cache.del('p');
    redis.signal('SIGCONT');
    // Redis still holds 'old' until the retried delete lands; this instance must not serve it.
    expect(await cache.get('p')).toBeUndefined();
    expect(await cache.getOrSet('p', async () => 'new')).toBe('new');
  });

  it('starts without Redis (L1 only), and uses Redis as soon as it appears', async () => {
    const port = await freePort();
    const cache = await cacheWith({ redis: `redis://127.0.0.1:${port}`, connectTimeout: 200 });
    expect(cache.stats()).toMatchObject({ degraded: true, l2: { connected: false } });
    expect(await cache.getOrSet('k', async () => 'from loader')).toBe('from loader');
    const late = await RedisServer.startOn(port);
    try {
      expect(await eventually(() => cache.stats().l2.connected, 10_000)).toBe(true);
      await cache.set('now', 'in redis');
      const raw = rawClient(late);
      expect(await raw.exists(`${(await raw.scan('0', 'MATCH', '*{now}'))[1][0]}`)).toBe(1);
      await raw.quit();
    } finally {
      await late.stop();
    }
  });

  it('leaves a Redis client passed in by the user open after app.close()', async () => {
    const client = new Redis(redis.url);
    const { app, cache } = await createApp({ redis: client });
    await cache.set('a', 1);
    await app.close();
    expect(client.status).toBe('ready');
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });

  it.each([
    ['a reachable Redis', () => redis.url],
    ['an unreachable Redis', () => 'redis://127.0.0.1:1'],
  ])('lets the process exit by itself after app.close(), with %s', async (_name, url) => {
    const script = fileURLToPath(new URL('../fixtures/exit-after-close.mjs', import.meta.url));
    const child = spawn(process.execPath, [script, url()], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running 10 s after app.close()');
      }, 10_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c ?? -1);
      });
    });
    expect(out).toContain('closed');
    expect(code).toBe(0);
  });
});

describe('options are checked at bootstrap', () => {
  it.each([
    [{ ttl: -1 }, /"ttl".*milliseconds/],
    [{ ttl: '60s' }, /"ttl".*milliseconds/],
    [{ redis: 'localhost:6379' }, /"redis".*redis:\/\/127\.0\.0\.1:6379/],
    [{ l1: { max: 0 } }, /"l1\.max"/],
    [{ l1: { ttl: 0 } }, /"l1\.ttl"/],
    [{ l1: false }, /"l1".*only tier/],
    [{ serializer: 'yaml' }, /"serializer".*'json', 'msgpack'/],
    [{ reddis: 'redis://x' }, /"reddis": unknown option/],
    [{ l1: { maxsize: 10 } }, /"l1\.maxsize": unknown option/],
    [{ nullTtl: -5 }, /"nullTtl"/],
  ])('rejects %j with a message that names the option and the fix', async (options, message) => {
    await expect(createApp(options as TieredCacheModuleOptions)).rejects.toThrow(message);
  });
});

describe('shutdown', () => {
  it('an app closed right after a load still stores the value and frees its lease', async () => {
    const redis = await RedisServer.start();
    const raw = rawClient(redis);
    try {
      for (let i = 0; i < 5; i++) {
        const { app, cache } = await createApp({ redis: redis.url, keyPrefix: `closing-${i}:` });
        await cache.getOrSet('k', async () => 'v'); // the write to Redis is still in flight
        await app.close();
        expect(await raw.exists(`closing-${i}:{k}`)).toBe(1);
        expect(await raw.exists(`closing-${i}:{k}:lease`)).toBe(0);
      }
    } finally {
      await raw.quit();
      await redis.stop();
    }
  });
});
