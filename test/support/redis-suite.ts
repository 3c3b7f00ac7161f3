import type { ModuleMetadata } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { expect } from 'vitest';
import type { TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { aclDenials, cacheUserUrl } from './acl.js';
import { createApp, uniquePrefix } from './app.js';
import { rawClient, RedisServer } from './redis-server.js';

/**
 * The usual suite fixture: one real redis-server for the file (stopped by PID after), a plain
 * (admin) client to look at or damage what the cache stored, and apps on that Redis that are
 * closed after each test. Apps connect as the README's least-privilege ACL user for their
 * `keyPrefix` (unless a test gives `redis` itself), and the file fails if Redis refused any of
 * their commands: every spec built on this fixture doubles as a check of that ACL.
 */
export function redisSuite() {
  let redis: RedisServer | undefined;
  let raw: Redis | undefined;
  const closers: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = rawClient(redis);
    await raw.call('ACL', 'LOG', 'RESET');
  });
  afterEach(async () => {
    while (closers.length) await closers.pop()!();
  });
  afterAll(async () => {
    try {
      if (raw !== undefined) expect(await aclDenials(raw), 'commands Redis refused the least-privilege cache user').toEqual([]);
    } finally {
      await raw?.quit();
      await redis?.stop();
    }
  });

  return {
    get redis(): RedisServer {
      return redis!;
    },
    get raw(): Redis {
      return raw!;
    },
    /** A Nest app with the cache on this Redis (plus `options`), closed after the test. */
    async app(options: TieredCacheModuleOptions = {}, metadata: ModuleMetadata = {}) {
      const keyPrefix = options.keyPrefix ?? uniquePrefix();
      const url = options.redis === undefined ? await cacheUserUrl(raw!, redis!.port, keyPrefix) : undefined;
      const created = await createApp({ redis: url ?? redis!.url, ...options, keyPrefix }, metadata);
      closers.push(() => created.app.close());
      return created;
    },
    /** Closes `app` after the current test (for apps a suite builds its own way). */
    closeAfter(app: { close(): Promise<unknown> }): void {
      closers.push(async () => {
        await app.close();
      });
    },
    /** Just the cache of such an app. */
    async cacheWith(options: TieredCacheModuleOptions = {}) {
      return (await this.app(options)).cache;
    },
  };
}
