import type { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { TieredCacheModule } from 'nestjs-tiered-cache';
import { TieredCacheHealthIndicator } from 'nestjs-tiered-cache/terminus';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';

describe('TieredCacheHealthIndicator', () => {
  let redis: RedisServer;
  let app: INestApplicationContext | undefined;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await redis?.stop();
  });

  async function indicator(redisOption: string | false): Promise<TieredCacheHealthIndicator> {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false }), TieredCacheModule.forRoot({ redis: redisOption, keyPrefix: `health-${Math.random()}:` })],
      providers: [TieredCacheHealthIndicator],
    }).compile();
    app = await moduleRef.init();
    return app.get(TieredCacheHealthIndicator);
  }

  it('reports up with the PING latency in milliseconds when Redis answers', async () => {
    const result = await (await indicator(redis.url)).isHealthy();

    expect(result).toEqual({
      cache: {
        status: 'up',
        degraded: false,
        redis: { status: 'up', latencyMs: expect.any(Number) },
        bus: { status: 'up' },
        tracking: { status: 'up' },
      },
    });
    expect(result.cache.redis.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('reports up, Redis not configured, for an L1-only cache', async () => {
    const result = await (await indicator(false)).isHealthy('l1-cache');

    expect(result).toEqual({
      'l1-cache': {
        status: 'up',
        degraded: false,
        redis: { status: 'not configured' },
        bus: { status: 'not configured' },
        tracking: { status: 'not configured' },
      },
    });
  });

  it('reports degraded when Redis does not answer, and down when Redis is required', async () => {
    const health = await indicator(redis.url);
    redis.signal('SIGSTOP');
    try {
      expect(await health.isHealthy()).toMatchObject({
        cache: { status: 'degraded', degraded: true, redis: { status: 'down', message: expect.any(String) } },
      });
      expect(await health.isHealthy('cache', { requireRedis: true })).toMatchObject({
        cache: { status: 'down', degraded: true },
      });
    } finally {
      redis.signal('SIGCONT');
    }
    expect(await health.isHealthy()).toMatchObject({ cache: { status: 'up', degraded: false } });
  });

  it('reports a server that refuses CLIENT TRACKING, without calling the cache degraded (the bus invalidates)', async () => {
    await redis.command('ACL', 'SETUSER', 'health-noclient', 'on', '>pw', '~*', '&*', '+@all', '-client');
    try {
      const result = await (await indicator(`redis://health-noclient:pw@127.0.0.1:${redis.port}`)).isHealthy();
      expect(result).toMatchObject({
        cache: { status: 'up', degraded: false, tracking: { status: 'refused', message: expect.stringMatching(/NOPERM|permission/i) } },
      });
    } finally {
      await redis.command('ACL', 'DELUSER', 'health-noclient');
    }
  });
});
