import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeyvStore, KeyvSharedTier } from '../../../lib/shared/keyv-shared-tier.js';
import { FAILED } from '../../../lib/shared/shared-tier.interface.js';
import { CacheStats } from '../../../lib/stats/cache-stats.js';
import { freePort, RedisServer } from '../../support/redis-server.js';

const TIMEOUT = 200;

function tier(stores: KeyvStore[], binary = false) {
  const stats = new CacheStats();
  return { tier: new KeyvSharedTier(stores, binary, TIMEOUT, stats), stats };
}

/** A Keyv whose `set` waits until released: a store that answers writes late. */
function slowWrites(keyv = new Keyv()) {
  const gates: (() => void)[] = [];
  const store: KeyvStore = {
    get: (k) => keyv.get(k),
    set: async (k, v, ttl) => {
      await new Promise<void>((r) => gates.push(r));
      return keyv.set(k, v, ttl);
    },
    delete: (k) => keyv.delete(k),
    clear: () => keyv.clear(),
  };
  return {
    store,
    keyv,
    releaseWrites: () => {
      for (const r of gates.splice(0)) r();
    },
  };
}

describe('KeyvSharedTier', () => {
  describe('a load stores its result only if its key was not written meanwhile (in this process)', () => {
    it('stores when nothing happened to the key since the read', async () => {
      const { tier: t } = tier([new Keyv()]);
      const read = await t.getVersioned('k');
      expect(read).toEqual({ raw: null, version: expect.any(String) });

      expect(await t.putIfVersion('k', 'loaded', 60_000, (read as { version: string }).version)).toBe(true);
      expect(await t.get('k')).toBe('loaded');
    });

    it.each([
      ['a delete of the key', (t: KeyvSharedTier) => t.del(['app:{k}'])],
      ['a write of the key', (t: KeyvSharedTier) => t.put('app:{k}', 'written', 60_000)],
      ['a clear of its prefix', (t: KeyvSharedTier) => t.delPrefix('app:{k')],
      ['a clear() of its cache', (t: KeyvSharedTier) => t.clear('app:{')],
    ])('stores nothing after %s during the load', async (_name, write) => {
      const { tier: t } = tier([new Keyv()]);
      const { version } = (await t.getVersioned('app:{k}')) as { version: string };
      await write(t);

      expect(await t.putIfVersion('app:{k}', 'stale', 60_000, version)).toBe(false);
      expect(await t.get('app:{k}')).not.toBe('stale');
    });

    it('still stores after a clear of another prefix', async () => {
      const { tier: t } = tier([new Keyv()]);
      const { version } = (await t.getVersioned('app:{k}')) as { version: string };
      await t.delPrefix('other:');

      expect(await t.putIfVersion('app:{k}', 'loaded', 60_000, version)).toBe(true);
    });

    it('a delete sent while the load result is being written wins, however late the store answers', async () => {
      const { store, keyv, releaseWrites } = slowWrites();
      const { tier: t } = tier([store]);
      const { version } = (await t.getVersioned('k')) as { version: string };

      const stored = t.putIfVersion('k', 'loaded', 60_000, version);
      // The load's write passed its check and is out; the delete is sent before it lands.
      await new Promise((r) => setTimeout(r, 10));
      const deleted = t.del(['k']);
      await new Promise((r) => setTimeout(r, 10));
      releaseWrites();

      expect(await stored).toBe(true);
      expect(await deleted).toBe(true);
      expect(await keyv.get('k')).toBeUndefined();
    });
  });

  describe('several stores, as cache-manager 7 uses them', () => {
    it('reads the first store that has the key, and writes and deletes in all', async () => {
      const first = new Keyv();
      const second = new Keyv();
      const { tier: t } = tier([first, second]);
      await second.set('only-second', 'b');
      await first.set('both', 'from-first');
      await second.set('both', 'from-second');

      expect(await t.get('only-second')).toBe('b');
      expect(await t.get('both')).toBe('from-first');

      await t.put('w', 'x', 60_000);
      expect([await first.get('w'), await second.get('w')]).toEqual(['x', 'x']);
      await t.del(['w']);
      expect([await first.get('w'), await second.get('w')]).toEqual([undefined, undefined]);
    });
  });

  describe('prefix deletes', () => {
    it("delete only the prefix's keys in a store that lists its keys", async () => {
      const keyv = new Keyv();
      const { tier: t } = tier([keyv]);
      await t.put('app:{a}', '1', 60_000);
      await t.put('other:{b}', '2', 60_000);

      expect(await t.delPrefix('app:')).toBe(true);
      expect(await keyv.get('app:{a}')).toBeUndefined();
      expect(await keyv.get('other:{b}')).toBe('2');
    });

    it('clear a store that cannot list its keys (more than asked, never less)', async () => {
      const map = new Map<string, unknown>();
      const store: KeyvStore = { get: (k) => map.get(k), set: (k, v) => map.set(k, v), delete: (k) => map.delete(k), clear: () => map.clear() };
      const { tier: t } = tier([store]);
      await t.put('app:{a}', '1', 60_000);

      expect(await t.delPrefix('app:')).toBe(true);
      expect(map.size).toBe(0);
    });
  });

  it('keeps binary values (msgpack) intact through a store that keeps text', async () => {
    const { tier: t } = tier([new Keyv()], true);
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    await t.put('bin', bytes, 60_000);

    expect(Buffer.compare((await t.get('bin')) as Buffer, bytes)).toBe(0);
  });

  describe('a store in trouble never throws and never holds a call past l2Timeout', () => {
    it('answers FAILED, counted as a timeout, for a store that does not answer', async () => {
      const never = () => new Promise<never>(() => undefined);
      const { tier: t, stats } = tier([{ get: never, set: never, delete: never, clear: never }]);

      expect(await t.get('k')).toBe(FAILED);
      expect(await t.put('k', 'v', 1_000)).toBe(FAILED);
      expect(stats.l2Timeouts).toBe(2);
    });

    it('answers FAILED, counted as an error, for a store that rejects or refuses a write', async () => {
      const boom = () => Promise.reject(new Error('boom'));
      const { tier: t, stats } = tier([{ get: boom, set: () => Promise.resolve(false), delete: boom, clear: boom }]);

      expect(await t.get('k')).toBe(FAILED);
      expect(await t.put('k', 'v', 1_000)).toBe(FAILED);
      expect(await t.del(['k'])).toBe(FAILED);
      expect(stats.l2Errors).toBe(3);
    });

    describe('KeyvRedis to a Redis that is not there (Keyv swallows the error and emits it)', () => {
      let port: number;
      beforeAll(async () => {
        port = await freePort();
      });

      it('answers FAILED and counts the error', async () => {
        const { tier: t, stats } = tier([new Keyv({ store: new KeyvRedis(`redis://127.0.0.1:${port}`) })]);

        expect(await t.get('k')).toBe(FAILED);
        expect(await t.put('k', 'v', 1_000)).toBe(FAILED);
        expect(stats.l2Errors + stats.l2Timeouts).toBeGreaterThanOrEqual(2);
        await t.close();
      });
    });
  });

  describe('on a real Redis through KeyvRedis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await RedisServer.start();
    });
    afterAll(async () => {
      await redis.stop();
    });

    it('stores with the TTL given, in milliseconds', async () => {
      const keyv = new Keyv({ store: new KeyvRedis(redis.url) });
      const { tier: t, stats } = tier([keyv]);
      await t.connect(1_000);
      await t.put('ttl-key', 'v', 150);

      expect(await t.get('ttl-key')).toBe('v');
      await new Promise((r) => setTimeout(r, 250));
      expect(await t.get('ttl-key')).toBeNull();
      expect(stats.l2Errors).toBe(0);
      await t.close();
    });
  });
});
