import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { LoaderTimeoutError } from 'nestjs-tiered-cache';
import { eventually, sleep, uniquePrefix } from '../support/app.js';
import { GatedLoader, nextTurn, settlement } from '../support/gated-loader.js';
import { redisSuite } from '../support/redis-suite.js';

/**
 * Counterexamples the fleet properties (redis-fleet.property.spec.ts) found, shrunk and written
 * out as plain examples. Each names the seed and the shrunk command list fast-check printed.
 */
const suite = redisSuite();

describe('counterexamples found by the fleet properties', () => {
  // fast-check seed -130497219, path "32:9:1:2:1:3:3" (npm run fuzz, redis fleet, no faults):
  //   keyContext on; getOrSet@0("", k1) then get@0(undefined, k1)
  //   -> get for tenant undefined returned the row of tenant "" (issue 12, defect 12).
  it("keeps keyContext '' and undefined apart: a tenant-less read never sees tenant ''s entry", async () => {
    let tenant: string | undefined;
    const cache = await suite.cacheWith({ keyContext: () => tenant });
    tenant = '';
    await cache.getOrSet('k1', async () => ({ tenant: "''" }));
    tenant = undefined;
    expect(await cache.get('k1')).toBeUndefined();
    expect(await cache.getOrSet('k1', async () => ({ tenant: 'undefined' }))).toEqual({ tenant: 'undefined' });
  });

  // fast-check seed -991975810, path "29:4:3:0:1:2:3:6:3:4" (npm run fuzz, redis fleet, no faults):
  //   hardTimeout 150, lock false, nullTtl 0, l1 { ttl: 300 }, 2 instances;
  //   getOrSet@0(k0, loader 200 ms) then getOrSet@0(k0, loader 0 ms)
  //   -> two loaders of k0 at once on instance 0 (issue 12, defect 5).
  it('keeps a hard-timed-out load registered: the next caller joins it instead of starting a second loader', async () => {
    const cache = await suite.cacheWith({ hardTimeout: 150, lock: false, nullTtl: 0, l1: { max: 100, ttl: 300 } });
    let running = 0;
    let most = 0;
    const loader = (ms: number, value: string) => async () => {
      most = Math.max(most, ++running);
      await sleep(ms);
      running--;
      return value;
    };
    await expect(cache.getOrSet('k0', loader(200, 'slow'))).rejects.toBeInstanceOf(LoaderTimeoutError);
    expect(await cache.getOrSet('k0', loader(0, 'second'))).toBe('slow');
    expect(most).toBe(1);
  });

  // fast-check seed 1155302187, path "14:10:11:10:9:33:25" (npm run fuzz, redis fleet with faults):
  //   3 instances, lock false, hardTimeout 150, l1 false, grace 1000;
  //   find@1(k1, loader 200 ms), del@2(k1), ..., getOrSet@2(k1)
  //   -> instance 2 read version 0 of k1 after its own del: the timed-out load on instance 1,
  //   no longer registered, was not superseded by the del and stored its stale row
  //   (issue 12, defects 5 and 10).
  it("stores nothing from a hard-timed-out load that another instance's del() overtook", async () => {
    const options = { keyPrefix: uniquePrefix('overtaken'), hardTimeout: 150, lock: false, l1: false as const };
    const a = await suite.cacheWith(options);
    const b = await suite.cacheWith(options);
    let version = 0;
    const load = async () => {
      const v = version;
      await sleep(200);
      return { version: v };
    };
    await expect(a.getOrSet('k1', load)).rejects.toBeInstanceOf(LoaderTimeoutError);
    version = 1;
    await b.del('k1');
    await sleep(150); // the timed-out load on a lands meanwhile
    expect(await b.getOrSet('k1', async () => ({ version }))).toEqual({ version: 1 });
  });

  // fast-check seed -1439329985, path "6" (npm run mutants, redis fleet with faults, unpatched lib/):
  //   2 instances, l1 false, bus false, tags; ... invalidateTags@1(even), quiesce()
  //   -> instance 0 read version 4 of k0 (tag even) after the quiescence (l1.ttl + retry + settle):
  //   without L1 the tag registry keeps a tag's time for the default l1Ttl (10 s), not l1.ttl,
  //   so an instance that read the tag before serves entries invalidated since. Fixed: without L1
  //   and without the bus, tag times are re-read on every tagged read.
  it('with l1: false and no bus, another instance stops serving a tag-invalidated entry within the retry period', async () => {
    const options = { keyPrefix: uniquePrefix('tag-no-l1'), l1: false as const, bus: false };
    const a = await suite.cacheWith(options);
    const b = await suite.cacheWith(options);
    await a.getOrSet('k0', async () => ({ version: 0 }), { tags: ['even'] });
    // b reads the entry once: it learns the tag's time (none yet).
    expect(await b.get('k0')).toEqual({ version: 0 });
    await a.invalidateTags(['even']);
    await sleep(1_500);
    expect(await b.get('k0')).toBeUndefined();
  });

  // Issue 13 (open in bench/FUZZ.md, found by reading): instance a sets k while disconnected (its
  //   bus too), b clears the cache, a reconnects and retries its set -> the set, older than the
  //   clear, landed after it and was served fleet-wide: clear() deleted the keys' write times.
  it("drops a set retried after another instance's clear when it was made before it", async () => {
    const keyPrefix = uniquePrefix('clear-retry');
    const client = new Redis(suite.redis.url);
    try {
      const a = (await suite.app({ redis: client, keyPrefix })).cache;
      const b = await suite.cacheWith({ keyPrefix });
      client.disconnect();
      expect(await eventually(() => !a.stats().l2.connected)).toBe(true);
      await a.set('k', 'made before the clear');
      expect(a.stats().l2.pendingWrites).toBe(1);
      await b.clear();
      await client.connect();
      expect(await eventually(() => a.stats().l2.pendingWrites === 0)).toBe(true);
      expect(await suite.raw.get(`${keyPrefix}{k}`)).toBeNull();
      expect(await b.get('k')).toBeUndefined();
      await a.set('k', 'made after the clear');
      expect(await b.get('k')).toBe('made after the clear');
    } finally {
      client.disconnect();
    }
  });

  // fast-check seed 550800605, path 73:10:2:2:1 (npm run fuzz, redis fleet with faults; seed
  //   550800596 path 90 is the same with tags and tenants): lock true, l1 false;
  //   getOrSet@1(k1) then clear@0(), quiesce() -> "get after quiescence on instance 0 returned
  //   version 0 of ∅/k1" (issue 13). getOrSet returns before its fill reaches Redis; the fill
  //   landed while clear()'s SCAN was under way, behind its cursor, and survived. Here 100 fills
  //   land halfway through a long SCAN: each survived (before the fix) when the cursor had passed
  //   its value but not yet its lease, about one in four.
  it('keeps nothing a load started before clear() fills while the clear is under way', async () => {
    const keyPrefix = uniquePrefix('clear-fill');
    const a = await suite.cacheWith({ keyPrefix, l1: false });
    const b = await suite.cacheWith({ keyPrefix, l1: false });
    const fillers = 40_000;
    const filler = suite.raw.pipeline();
    for (let i = 0; i < fillers; i++) filler.set(`${keyPrefix}{filler:${i}}`, 'x', 'PX', 60_000);
    await filler.exec();
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    const gates = keys.map(() => new GatedLoader({ version: 0 }));
    const loads = keys.map((k, i) => b.getOrSet(k, gates[i]!.load));
    await Promise.all(gates.map((g) => g.started));
    const before = await suite.raw.dbsize();
    const clearing = a.clear();
    let done = false;
    void clearing.then(() => (done = true));
    // Halfway through the SCAN (or past it on a slow machine: the test then proves less, never fails).
    while (!done && (await suite.raw.dbsize()) > before - fillers / 2);
    for (const g of gates) g.release();
    expect(await Promise.all(loads)).toEqual(keys.map(() => ({ version: 0 })));
    await clearing;
    // Every fill has landed (or been dropped) once no lease is left.
    expect(await eventually(async () => (await suite.raw.exists(...keys.map((k) => `${keyPrefix}{${k}}:lease`))) === 0)).toBe(true);
    const values = await suite.raw.mget(...keys.map((k) => `${keyPrefix}{${k}}`));
    expect(keys.filter((_, i) => values[i] !== null)).toEqual([]);
    for (const k of keys.slice(0, 3)) expect(await a.get(k)).toBeUndefined();
  });

  // fast-check seed 1876906325, path 4:2:3:3:3:3:3:3 (npm run fuzz, redis fleet with faults):
  //   restart(), then getOrSet@2(k0, fails, delay 0) in the background and, a few promise
  //   reactions later, getOrSet@2(k0, ...) -> "got the error of loader run 2, which failed
  //   before the call started (a cached error)" (issue 13). Redis was not back yet, so the read
  //   path never waited for I/O: the second call joined the load in the turn its loader threw in.
  //   The oracle now flags only a call made in a later turn; this is what it must still hold.
  it('runs its own loader for a call made the turn after a failed load, with Redis just killed', async () => {
    const cache = await suite.cacheWith({ redis: suite.redis.url, keyPrefix: uniquePrefix('failed-load'), lock: false });
    await suite.redis.kill();
    try {
      expect(await eventually(() => !cache.stats().l2.connected)).toBe(true);
      const first = settlement(
        cache.getOrSet('k0', async () => {
          throw new Error('run 1 failed');
        }),
      );
      await nextTurn();
      expect(await cache.getOrSet('k0', async () => 'run 2')).toBe('run 2');
      expect(await first).toEqual({ error: new Error('run 1 failed') });
    } finally {
      await suite.redis.start();
    }
  });
});
