import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { CacheEvict, TieredCacheService } from 'nestjs-tiered-cache';
import { CACHE_MANAGER, type Cache, CacheModule } from 'nestjs-tiered-cache/compat';
import { describe, expect, it } from 'vitest';
import { toWire } from '../../lib/codec/envelope.js';
import { uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';
import { withoutVersions } from '../support/topology.js';

/** Live envelope bytes (JSON) around `value`, as an attacker who can write to Redis would make them. */
function plantable(value: unknown): string {
  const now = Date.now();
  return JSON.stringify(toWire({ value, createdAt: now, expiresAt: now + 60_000, staleUntil: now + 60_000, delta: 0 }));
}

/** Every non-empty suffix of `s`, and `s` itself: keys a caller might try to reach a stored key with. */
const suffixes = (s: string) => Array.from({ length: s.length }, (_, i) => s.slice(i));

const NAMESPACES = ['a*', 'a?[', 'a\\', 'ab', 'a', 'ax[', 'a\\b'] as const;

@Injectable()
class Sweeper {
  @CacheEvict({ allEntries: true, namespace: 'a*' })
  async sweepStar(): Promise<void> {}

  @CacheEvict({ allEntries: true, namespace: 'a?[' })
  async sweepBracket(): Promise<void> {}

  @CacheEvict({ allEntries: true, namespace: 'a\\' })
  async sweepBackslash(): Promise<void> {}
}

describe('keys: what a read can reach, what a delete can reach', () => {
  const suite = redisSuite();

  describe('planted values and tenant contexts (keyContext)', () => {
    /**
     * Lets tenant `globex` store `key`, finds the Redis key that holds it (whatever the layout),
     * and plants other bytes there.
     */
    async function plantedForGlobex(key: string) {
      let tenant: string | undefined = 'globex';
      const keyPrefix = uniquePrefix('tenants');
      const cache = await suite.cacheWith({ keyPrefix, l1: false, keyContext: () => tenant });
      await cache.set(key, 'genuine');
      const found = withoutVersions((await suite.raw.scan('0', 'MATCH', `${keyPrefix}*`, 'COUNT', 1_000))[1]);
      expect(found).toHaveLength(1);
      const redisKey = found[0]!;
      await suite.raw.set(redisKey, plantable('planted for globex'), 'PX', 60_000);
      return {
        cache,
        redisKey,
        as: <T>(t: string | undefined, read: () => Promise<T>) => {
          tenant = t;
          return read();
        },
      };
    }

    const OTHER_TENANTS = ['acme', 'acme/globex', 'globex/', 'globex%2F', '%67lobex', 'GLOBEX', ' globex', undefined];

    it.each([
      ['a short key', 'invoice:1'],
      ['a key long enough to be hashed', `report:${'x'.repeat(400)}`],
      ['a key with separators', 'a/b{c}:d%2F'],
    ])("serves bytes planted under another tenant's key to that tenant only (%s)", async (_name, key) => {
      const { as, cache, redisKey } = await plantedForGlobex(key);

      // The plant is where globex reads: the test can see a cross-tenant read if there is one.
      expect(await as('globex', () => cache.get(key))).toBe('planted for globex');
      const candidates = [key, `globex/${key}`, `globex:${key}`, ...suffixes(redisKey)];
      for (const tenant of OTHER_TENANTS) {
        const read = await as(tenant, () => cache.getMany(candidates));
        expect(
          read.filter((v) => v !== undefined),
          `tenant ${JSON.stringify(tenant)}`,
        ).toEqual([]);
        expect(await as(tenant, () => cache.getOrSet(key, async () => `${tenant}'s own`))).toBe(`${tenant}'s own`);
      }
      expect(await as('globex', () => cache.get(key))).toBe('planted for globex');
    });
  });

  describe('deletes by prefix escape Redis glob characters', () => {
    it('@CacheEvict({ allEntries }) of a namespace with *, ?, [ or \\ deletes only that namespace', async () => {
      const keyPrefix = uniquePrefix('globs');
      const { app, cache } = await suite.app({ keyPrefix, l1: false }, { providers: [Sweeper] });
      const sweeper = app.get(Sweeper);
      const keys = NAMESPACES.map((ns) => `${ns}:entry`);
      const present = async () => {
        const values = await cache.getMany(keys);
        return keys.filter((_, i) => values[i] !== undefined);
      };
      await cache.setMany(keys.map((key) => ({ key, value: key })));
      expect(await present()).toEqual(keys);

      await sweeper.sweepStar();
      expect(await present()).toEqual(['a?[:entry', 'a\\:entry', 'ab:entry', 'a:entry', 'ax[:entry', 'a\\b:entry']);
      await sweeper.sweepBracket();
      expect(await present()).toEqual(['a\\:entry', 'ab:entry', 'a:entry', 'ax[:entry', 'a\\b:entry']);
      await sweeper.sweepBackslash();
      expect(await present()).toEqual(['ab:entry', 'a:entry', 'ax[:entry', 'a\\b:entry']);
    });

    it('clear() with glob characters in keyPrefix deletes only its own keys', async () => {
      const run = uniquePrefix('p');
      const caches = new Map<string, TieredCacheService>();
      for (const keyPrefix of [`${run}*:`, `${run}?:`, `${run}[x]:`, `${run}x:`, `${run}:`]) {
        const cache = await suite.cacheWith({ keyPrefix, l1: false });
        await cache.set('k', keyPrefix);
        caches.set(keyPrefix, cache);
      }

      await caches.get(`${run}*:`)!.clear();
      await caches.get(`${run}?:`)!.clear();
      await caches.get(`${run}[x]:`)!.clear();

      const left = await Promise.all([...caches].map(async ([p, c]) => [p, await c.get('k')]));
      expect(left).toEqual([
        [`${run}*:`, undefined],
        [`${run}?:`, undefined],
        [`${run}[x]:`, undefined],
        [`${run}x:`, `${run}x:`],
        [`${run}:`, `${run}:`],
      ]);
    });

    it('the compat clear() of CacheModule namespace "a*" leaves namespaces "ab" and "a" alone', async () => {
      const keyPrefix = uniquePrefix('compat-globs');
      const managers = new Map<string, Cache>();
      for (const namespace of ['a*', 'ab', 'a']) {
        const moduleRef = await Test.createTestingModule({
          imports: [CacheModule.register({ redis: suite.redis.url, keyPrefix, namespace, l1: false })],
        }).compile();
        const app = await moduleRef.init();
        suite.closeAfter(app);
        const cache = app.get<Cache>(CACHE_MANAGER);
        await cache.set('k', namespace);
        managers.set(namespace, cache);
      }

      await managers.get('a*')!.clear();

      expect(await managers.get('a*')!.get('k')).toBeUndefined();
      expect(await managers.get('ab')!.get('k')).toBe('ab');
      expect(await managers.get('a')!.get('k')).toBe('a');
    });
  });
});
