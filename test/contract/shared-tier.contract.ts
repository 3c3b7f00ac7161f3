import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clearMarkerKey, FAILED, LEASED, leaseKey, type SharedTier, versionKey, writeTime } from '../../lib/shared/shared-tier.interface.js';

/** Two instances' tiers over one store, for one test. */
export interface SharedTierFixture {
  /** Two tiers (two app instances) sharing one store and bus. */
  a: SharedTier;
  b: SharedTier;
  /** Whether bytes come back as written (false: a tier for string codecs, which reads text). */
  bytes?: boolean;
  /** A prefix no other test uses; every key of the test starts with it. */
  prefix: string;
  /** Lets `ms` milliseconds pass on the store's clock (advance a clock, or sleep). */
  advance(ms: number): Promise<void>;
  /** Closes the tiers (and whatever the fixture started). */
  close(): Promise<void>;
}

/**
 * What every {@link SharedTier} must do, as the engine relies on it. Call it from a spec with a
 * factory for the implementation under test: the in-memory tier
 * (test/unit/shared/memory-shared-tier.spec.ts) and the Redis tier alike, so both keep one contract.
 */
export function sharedTierContract(name: string, make: () => Promise<SharedTierFixture>): void {
  describe(`SharedTier contract: ${name}`, () => {
    let fx: SharedTierFixture;
    let k: string;
    beforeEach(async () => {
      fx = await make();
      k = `${fx.prefix}{product:1}`;
    });
    afterEach(async () => {
      await fx.close();
    });

    it('reads null for an absent key and the stored string or bytes after put', async () => {
      expect(await fx.a.get(k)).toBeNull();
      expect(await fx.a.put(k, '{"v":1}', 10_000)).toBe(true);
      expect(await fx.b.get(k)).toBe('{"v":1}');
      if (fx.bytes === false) return;
      const bytes = Buffer.from([0, 1, 2, 255]);
      await fx.a.put(k, bytes, 10_000);
      const got = await fx.b.get(k);
      expect(Buffer.isBuffer(got) ? [...got] : got).toEqual([0, 1, 2, 255]);
    });

    // fuzz seed 94322344: B's set made during an outage was retried after A's later del and put
    // the old value back; a write carries its time, and one older than the key's latest is dropped.
    it('drops a put older than the latest write of the key, and still settles it', async () => {
      const t = Date.now();
      await fx.b.del([k], t);
      expect(await fx.a.put(k, 'made before the del', 10_000, t - 5)).toBe(true);
      expect(await fx.b.get(k)).toBeNull();
      expect(await fx.a.put(k, 'made after the del', 10_000, t + 5)).toBe(true);
      expect(await fx.b.get(k)).toBe('made after the del');
      expect(await fx.b.put(k, 'made before that', 10_000, t + 1)).toBe(true);
      expect(await fx.a.get(k)).toBe('made after the del');
    });

    it('lands a first put of the same millisecond as the latest write, but not one sent again', async () => {
      const t = Date.now();
      await fx.b.del([k], t);
      expect(await fx.a.put(k, 'sent again', 10_000, t, true)).toBe(true);
      expect(await fx.b.get(k)).toBeNull();
      // del() then set() in one millisecond on one instance: the set lands.
      expect(await fx.a.put(k, 'set right after the del', 10_000, t)).toBe(true);
      expect(await fx.b.get(k)).toBe('set right after the del');
    });

    it('lets an older delete land all the same (removing is never stale)', async () => {
      const t = Date.now();
      await fx.a.put(k, 'v', 10_000, t);
      await fx.b.del([k], t - 5);
      expect(await fx.a.get(k)).toBeNull();
      // ...and keeps the later time: a put between the two is still older than the first put.
      expect(await fx.a.put(k, 'between', 10_000, t - 2)).toBe(true);
      expect(await fx.a.get(k)).toBeNull();
    });

    it('forgets a value once its TTL has passed', async () => {
      await fx.a.put(k, 'v', 50);
      await fx.advance(120);
      expect(await fx.a.get(k)).toBeNull();
    });

    it("bumps the write version on put and del, '' while there is none", async () => {
      const v0 = await fx.a.getVersioned(k);
      expect(v0).toEqual({ raw: null, version: '' });
      await fx.a.put(k, 'v1', 10_000);
      const v1 = await fx.a.getVersioned(k);
      expect(v1).not.toBe(FAILED);
      expect(v1).toMatchObject({ raw: 'v1' });
      const version1 = (v1 as { version: string }).version;
      expect(version1).not.toBe('');
      await fx.b.del([k]);
      const v2 = (await fx.a.getVersioned(k)) as { raw: unknown; version: string };
      expect(v2.raw).toBeNull();
      expect(v2.version).not.toBe(version1);
      expect(v2.version).not.toBe('');
    });

    it('putIfVersion stores only while the version is unchanged', async () => {
      const seen = (await fx.a.getVersioned(k)) as { version: string };
      await fx.b.del([k]); // an eviction while a load without a lease runs
      expect(await fx.a.putIfVersion(k, 'stale', 10_000, seen.version)).toBe(false);
      expect(await fx.a.get(k)).toBeNull();
      const now = (await fx.a.getVersioned(k)) as { version: string };
      expect(await fx.a.putIfVersion(k, 'fresh', 10_000, now.version)).toBe(true);
      expect(await fx.b.get(k)).toBe('fresh');
    });

    it('grants a lease to one token at a time and tells the others how long it has left', async () => {
      expect(await fx.a.acquire(k, 'ta', 1_000, false)).toBe('acquired');
      const other = await fx.b.acquire(k, 'tb', 1_000, false);
      expect(typeof other).toBe('number');
      expect(other as number).toBeGreaterThan(0);
      expect(other as number).toBeLessThanOrEqual(1_000);
    });

    it("answers 'exists' to a checking acquire when the value is there", async () => {
      await fx.a.put(k, 'v', 10_000);
      expect(await fx.b.acquire(k, 'tb', 1_000, true)).toBe('exists');
      expect(await fx.b.acquire(k, 'tb', 1_000, false)).toBe('acquired');
    });

    it('readOrLease answers the value when present, and takes no lease then', async () => {
      await fx.a.put(k, 'v', 10_000);
      expect(await fx.b.readOrLease(k, 'tb', 1_000)).toBe('v');
      expect(await fx.a.acquire(k, 'ta', 1_000, false)).toBe('acquired');
    });

    it('readOrLease takes the lease of an absent entry for one token, and tells the next how long it has left', async () => {
      expect(await fx.a.readOrLease(k, 'ta', 1_000)).toBe(LEASED);
      const other = await fx.b.readOrLease(k, 'tb', 1_000);
      expect(typeof other).toBe('number');
      expect(other as number).toBeGreaterThan(0);
      expect(other as number).toBeLessThanOrEqual(1_000);
      // The lease is the token's, as one taken by acquire: its holder fills, nobody else.
      expect(await fx.b.fill(k, 'tb', 'theirs', 10_000, `${fx.prefix}ch`, 'm')).toBe(false);
      expect(await fx.a.fill(k, 'ta', 'mine', 10_000, `${fx.prefix}ch`, 'm')).toBe(true);
      expect(await fx.b.readOrLease(k, 'tb', 1_000)).toBe('mine');
    });

    it('lets a lease expire after its TTL, so another instance can take over', async () => {
      await fx.a.acquire(k, 'ta', 50, false);
      await fx.advance(120);
      expect(await fx.b.acquire(k, 'tb', 1_000, false)).toBe('acquired');
    });

    it('extends and releases a lease only for its holder', async () => {
      await fx.a.acquire(k, 'ta', 1_000, false);
      expect(await fx.b.extend(k, 'tb', 5_000)).toBe(false);
      expect(await fx.b.release(k, 'tb')).toBe(false);
      expect(await fx.b.acquire(k, 'tb', 1_000, false)).not.toBe('acquired');
      expect(await fx.a.extend(k, 'ta', 5_000)).toBe(true);
      expect(await fx.b.acquire(k, 'tb', 1_000, false)).toBeGreaterThan(1_000);
      expect(await fx.a.release(k, 'ta')).toBe(true);
      expect(await fx.b.acquire(k, 'tb', 1_000, false)).toBe('acquired');
    });

    it('fill stores, frees the lease and publishes, only while the token holds the lease', async () => {
      const channel = `${fx.prefix}__bus`;
      const { got, sub } = await listen(fx.b, channel);
      await fx.a.acquire(k, 'ta', 1_000, false);
      expect(await fx.b.fill(k, 'tb', 'not mine', 10_000, channel, 'm-b')).toBe(false);
      expect(await fx.a.get(k)).toBeNull();
      expect(await fx.a.fill(k, 'ta', 'loaded', 10_000, channel, 'm-a')).toBe(true);
      expect(await fx.b.get(k)).toBe('loaded');
      expect(await fx.b.acquire(k, 'tb', 1_000, false)).toBe('acquired');
      await until(() => got.length > 0);
      expect(got).toEqual(['m-a']);
      await sub.close();
    });

    it('fill announces only when a caller was told the lease is taken, unless told to always', async () => {
      const channel = `${fx.prefix}__bus`;
      const { got, sub } = await listen(fx.b, channel);
      // Nobody asked while the lease was held: no announcement.
      await fx.a.acquire(k, 'ta', 1_000, false);
      expect(await fx.a.fill(k, 'ta', 'v1', 10_000, channel, 'nobody-waits', undefined, false)).toBe(true);
      // Told it is taken, by acquire and by readOrLease: announced once each.
      const k2 = `${fx.prefix}{product:2}`;
      await fx.a.acquire(k2, 'ta', 1_000, false);
      expect(typeof (await fx.b.acquire(k2, 'tb', 1_000, true))).toBe('number');
      expect(await fx.a.fill(k2, 'ta', 'v2', 10_000, channel, 'acquire-waited', undefined, false)).toBe(true);
      const k3 = `${fx.prefix}{product:3}`;
      expect(await fx.a.readOrLease(k3, 'ta', 1_000)).toBe(LEASED);
      expect(typeof (await fx.b.readOrLease(k3, 'tb', 1_000))).toBe('number');
      expect(await fx.a.fill(k3, 'ta', 'v3', 10_000, channel, 'read-waited', undefined, false)).toBe(true);
      // The note went with the announcement: the next load of the key nobody waits for is silent.
      expect(await fx.a.acquire(k3, 'ta', 1_000, false)).toBe('acquired');
      expect(await fx.a.fill(k3, 'ta', 'v4', 10_000, channel, 'silent-again', undefined, false)).toBe(true);
      const k4 = `${fx.prefix}{product:4}`;
      await fx.a.acquire(k4, 'ta', 1_000, false);
      expect(await fx.a.fill(k4, 'ta', 'v5', 10_000, channel, 'always', undefined, true)).toBe(true);
      await until(() => got.length >= 3);
      await fx.advance(50);
      expect(got).toEqual(['acquire-waited', 'read-waited', 'always']);
      await sub.close();
    });

    it('put and del delete the lease, so a load in flight cannot fill after them', async () => {
      await fx.a.acquire(k, 'ta', 1_000, false);
      await fx.b.put(k, 'written', 10_000);
      expect(await fx.a.fill(k, 'ta', 'loaded', 10_000, 'c', 'm')).toBe(false);
      expect(await fx.a.get(k)).toBe('written');
      await fx.a.acquire(`${k}2`, 'ta', 1_000, false);
      await fx.b.del([`${k}2`]);
      expect(await fx.a.fill(`${k}2`, 'ta', 'loaded', 10_000, 'c', 'm')).toBe(false);
      expect(await fx.a.get(`${k}2`)).toBeNull();
    });

    it('delPrefix deletes every key under the prefix, leases included, and nothing else', async () => {
      const inside = [`${fx.prefix}{a}`, `${fx.prefix}{b}`];
      const outside = `${fx.prefix.slice(0, -1)}-other:{a}`;
      for (const key of [...inside, outside]) await fx.a.put(key, 'v', 10_000);
      await fx.a.acquire(`${fx.prefix}{c}`, 'ta', 1_000, false);
      expect(await fx.b.delPrefix(`${fx.prefix}{`)).toBe(true);
      for (const key of inside) expect(await fx.a.get(key)).toBeNull();
      expect(await fx.a.get(outside)).toBe('v');
      expect(await fx.b.acquire(`${fx.prefix}{c}`, 'tb', 1_000, false)).toBe('acquired');
      await fx.a.del([outside]);
    });

    // Issue 13: clear() deleted the write versions with the entries, so a write dated before it
    // that landed after it (retried after an outage, or in flight during its SCAN) survived.
    it('clear drops every value write dated before it, whenever it lands, and no later one', async () => {
      const kf = `${fx.prefix}{fill}`;
      const kv = `${fx.prefix}{versioned}`;
      const other = `${fx.prefix.slice(0, -1)}-other:{a}`;
      const seen = (await fx.a.getVersioned(kv)) as { version: string };
      const t = writeTime();
      expect(await fx.b.clear(`${fx.prefix}{`, t)).toBe(true);
      // A set made before the clear, sent again after it:
      expect(await fx.a.put(k, 'set before', 10_000, t - 5, true)).toBe(true);
      expect(await fx.b.get(k)).toBeNull();
      // A load with a lease, started before the clear, whose fill comes after it:
      await fx.a.acquire(kf, 'ta', 1_000, false);
      expect(await fx.a.fill(kf, 'ta', 'loaded before', 10_000, `${fx.prefix}__bus`, 'm', t - 5)).toBe(false);
      expect(await fx.b.get(kf)).toBeNull();
      expect(await fx.b.acquire(kf, 'tb', 1_000, false)).toBe('acquired'); // its lease is freed all the same
      expect(await fx.b.release(kf, 'tb')).toBe(true);
      // A load without a lease that read the version before the clear:
      expect(await fx.a.putIfVersion(kv, 'loaded before', 10_000, seen.version)).toBe(false);
      expect(await fx.b.get(kv)).toBeNull();
      // An older clear sent again does not move the marker back; another cache is not cleared.
      expect(await fx.a.clear(`${fx.prefix}{`, t - 100)).toBe(true);
      expect(await fx.a.put(k, 'set before', 10_000, t - 5)).toBe(true);
      expect(await fx.b.get(k)).toBeNull();
      expect(await fx.a.put(other, 'another cache', 10_000, t - 5)).toBe(true);
      expect(await fx.b.get(other)).toBe('another cache');
      // Writes after the clear land.
      expect(await fx.a.put(k, 'set after', 10_000, t + 5)).toBe(true);
      expect(await fx.b.get(k)).toBe('set after');
      await fx.b.acquire(kf, 'tb', 1_000, false);
      expect(await fx.b.fill(kf, 'tb', 'loaded after', 10_000, `${fx.prefix}__bus`, 'm', t + 5)).toBe(true);
      expect(await fx.a.get(kf)).toBe('loaded after');
      const now = (await fx.a.getVersioned(kv)) as { version: string };
      expect(now.version).not.toBe(seen.version);
      expect(await fx.a.putIfVersion(kv, 'loaded after', 10_000, now.version)).toBe(true);
      expect(await fx.b.get(kv)).toBe('loaded after');
      expect(clearMarkerKey(`${fx.prefix}{`)).toBe(`${fx.prefix}__clear:v1`);
      expect(clearMarkerKey(k)).toBe(`${fx.prefix}__clear:v1`);
      await fx.a.del([other, k, kf, kv]);
    });

    it('keeps markers with their TTL', async () => {
      const m1 = `${fx.prefix}tag:a`;
      const m2 = `${fx.prefix}tag:b`;
      expect(await fx.a.getMarkers([m1, m2])).toEqual([null, null]);
      await fx.a.setMarker(m1, '1700000000000', 50);
      expect(await fx.b.getMarkers([m1, m2])).toEqual(['1700000000000', null]);
      await fx.advance(120);
      expect(await fx.b.getMarkers([m1])).toEqual([null]);
    });

    it('delivers published messages in order to the other instances', async () => {
      const channel = `${fx.prefix}__bus`;
      const { got, sub } = await listen(fx.b, channel);
      expect(sub.connected).toBe(true);
      for (const m of ['1', '2', '3']) expect(await fx.a.publish(channel, m)).toBe(true);
      await until(() => got.length === 3);
      expect(got).toEqual(['1', '2', '3']);
      await sub.close();
    });

    it('names the lease and the version beside the value key', () => {
      expect(leaseKey(k)).toBe(`${k}:lease`);
      expect(versionKey(k)).toBe(`${k}:ver`);
    });

    it('answers ping, and unsubscribes state listeners', async () => {
      expect(typeof (await fx.a.ping())).toBe('number');
      let calls = 0;
      const off = fx.a.on('trouble', () => calls++);
      off();
      expect(calls).toBe(0);
      expect(fx.a.connected).toBe(true);
    });

    it('resolves FAILED, never rejects, once closed', async () => {
      await fx.a.close();
      expect(await fx.a.get(k)).toBe(FAILED);
      expect(await fx.a.put(k, 'v', 1_000)).toBe(FAILED);
      expect(await fx.a.del([k])).toBe(FAILED);
      expect(await fx.a.publish('c', 'm')).toBe(FAILED);
    });
  });
}

/** Subscribes `tier` to `channel` and collects what arrives. */
async function listen(tier: SharedTier, channel: string): Promise<{ got: string[]; sub: ReturnType<SharedTier['subscribe']> }> {
  const got: string[] = [];
  const sub = tier.subscribe(
    channel,
    (m) => got.push(m),
    () => undefined,
  );
  await sub.start(2_000);
  return { got, sub };
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}
