import { afterEach, describe, expect, it } from 'vitest';
import { KeyStates } from '../../../lib/engine/key-state.js';
import { closeAll, deferred, fleet, settle } from './support/engine-fleet.js';

/**
 * Per-key state (issue 13): one load and one refresh per key, supersession by evictions and
 * writes (a superseded load stores nothing and is not joined), refresh backoffs, and the epoch
 * that keeps reads overlapping an eviction out of L1.
 */
afterEach(closeAll);

describe('KeyStates', () => {
  it('registers a load and a refresh per key until they end', () => {
    const s = new KeyStates();
    expect(s.flight('k')).toBeUndefined();
    const f = s.beginFlight('k');
    const r = s.beginRefresh('k');
    expect(f).toMatchObject({ superseded: false, outcome: undefined, stale: undefined, claim: undefined, tags: undefined });
    expect(s.flight('k')).toBe(f);
    expect(s.refresh('k')).toBe(r);
    expect(s.flight('other')).toBeUndefined();
    expect(s.busy).toBe(2);
    s.end('k', f);
    expect(s.flight('k')).toBeUndefined();
    expect(s.refresh('k')).toBe(r);
    expect(s.busy).toBe(1);
    s.end('k', r);
    expect(s.refresh('k')).toBeUndefined();
    expect(s.busy).toBe(0);
  });

  it('ending a load that is no longer the key’s leaves the newer one registered', () => {
    const s = new KeyStates();
    const old = s.beginFlight('k');
    s.supersede('k');
    const f = s.beginFlight('k');
    const r = s.beginRefresh('k');
    s.end('k', old);
    expect(s.flight('k')).toBe(f);
    expect(s.refresh('k')).toBe(r);
    const oldRefresh = r;
    s.supersede('k');
    const r2 = s.beginRefresh('k');
    s.end('k', oldRefresh);
    expect(s.refresh('k')).toBe(r2);
  });

  it('supersede marks the key’s load and refresh, forgets them, ends its backoff and bumps the epoch', () => {
    const s = new KeyStates();
    const f = s.beginFlight('k');
    const r = s.beginRefresh('k');
    const other = s.beginFlight('j');
    s.backoff('k', 60_000);
    s.backoff('j', 60_000);
    const epoch = s.epoch;
    s.supersede('k');
    expect(s.epoch).toBe(epoch + 1);
    expect(f.superseded).toBe(true);
    expect(r.superseded).toBe(true);
    expect(s.flight('k')).toBeUndefined();
    expect(s.refresh('k')).toBeUndefined();
    expect(s.inBackoff('k')).toBe(false);
    expect(other.superseded).toBe(false);
    expect(s.flight('j')).toBe(other);
    expect(s.inBackoff('j')).toBe(true);
    s.supersede('none');
    expect(s.epoch).toBe(epoch + 2);
  });

  it('supersedeWhere supersedes the keys `match` accepts (every key without it)', () => {
    const s = new KeyStates();
    const a = s.beginFlight('ns:a');
    const ra = s.beginRefresh('ns:r');
    const b = s.beginFlight('other:b');
    const rb = s.beginRefresh('other:r');
    s.backoff('ns:a', 60_000);
    s.backoff('other:b', 60_000);
    const epoch = s.epoch;
    s.supersedeWhere((k) => k.startsWith('ns:'));
    expect(s.epoch).toBe(epoch + 1);
    expect([a.superseded, ra.superseded, b.superseded, rb.superseded]).toEqual([true, true, false, false]);
    expect([s.flight('ns:a'), s.refresh('ns:r'), s.flight('other:b'), s.refresh('other:r')]).toEqual([undefined, undefined, b, rb]);
    expect([s.inBackoff('ns:a'), s.inBackoff('other:b')]).toEqual([false, true]);
    s.supersedeWhere();
    expect([b.superseded, rb.superseded]).toEqual([true, true]);
    expect(s.busy).toBe(0);
    expect(s.inBackoff('other:b')).toBe(false);
    expect(s.epoch).toBe(epoch + 2);
  });

  it('supersedeWhere without backoffs still bumps the epoch', () => {
    const s = new KeyStates();
    s.supersedeWhere((k) => k === 'x');
    s.supersedeWhere();
    expect(s.epoch).toBe(2);
  });

  it('supersedeTagged supersedes the loads and refreshes carrying one of the tags, and no others', () => {
    const s = new KeyStates();
    const tagged = s.beginFlight('a');
    tagged.tags = ['t1', 't2'];
    const otherTag = s.beginFlight('b');
    otherTag.tags = ['t3'];
    const untagged = s.beginFlight('c');
    const refresh = s.beginRefresh('d');
    refresh.tags = ['t5', 't2'];
    const refreshOther = s.beginRefresh('e');
    refreshOther.tags = ['t4'];
    const refreshUntagged = s.beginRefresh('f');
    s.backoff('a', 60_000);
    s.supersedeTagged(['t2', 'x']);
    expect(s.epoch).toBe(1);
    expect([tagged.superseded, otherTag.superseded, untagged.superseded, refresh.superseded, refreshOther.superseded, refreshUntagged.superseded]).toEqual([
      true,
      false,
      false,
      true,
      false,
      false,
    ]);
    expect(s.flight('a')).toBeUndefined();
    expect(s.refresh('d')).toBeUndefined();
    expect(s.flight('b')).toBe(otherTag);
    expect(s.flight('c')).toBe(untagged);
    expect(s.refresh('e')).toBe(refreshOther);
    expect(s.refresh('f')).toBe(refreshUntagged);
    // A tag invalidation is not an eviction of the key: its backoff stays.
    expect(s.inBackoff('a')).toBe(true);
  });

  it('a backoff lasts its milliseconds; 0 is none', async () => {
    const s = new KeyStates();
    expect(s.inBackoff('k')).toBe(false);
    s.backoff('k', 0);
    expect(s.inBackoff('k')).toBe(false);
    s.backoff('k', 30);
    expect(s.inBackoff('k')).toBe(true);
    expect(s.inBackoff('j')).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(s.inBackoff('k')).toBe(false);
  });
});

describe('key states through the engine', () => {
  it('a del during a load: the load stores nothing, and the next caller loads afresh', async () => {
    const { broker, instances } = await fleet(1);
    const a = instances[0]!;
    const gate = deferred<string>();
    const first = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    await a.cache.del('k');
    const second = a.cache.getOrSet('k', async () => 'after-del');
    gate.resolve('before-del');
    expect(await first).toBe('before-del');
    expect(await second).toBe('after-del');
    await settle();
    expect(await a.cache.get('k')).toBe('after-del');
    expect(broker.keys().some((k) => k === 'app:{k}')).toBe(true);
  });

  it('a set during a load wins over the load’s result, here and in the shared tier', async () => {
    const { instances } = await fleet(2);
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const gate = deferred<string>();
    const load = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    await a.cache.set('k', 'written');
    gate.resolve('loaded');
    expect(await load).toBe('loaded');
    await settle();
    expect(await a.cache.get('k')).toBe('written');
    expect(await b.cache.get('k')).toBe('written');
  });

  it('invalidating a tag during a load of a tagged entry: nothing stored, the next caller loads afresh', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const gate = deferred<string>();
    const first = a.cache.getOrSet('k', () => gate.promise, { tags: ['t'] });
    const untagged = a.cache.getOrSet('u', async () => 'u1');
    await settle();
    await a.cache.invalidateTags('t');
    const second = a.cache.getOrSet('k', async () => 'fresh', { tags: ['t'] });
    gate.resolve('stale');
    expect(await first).toBe('stale');
    expect(await second).toBe('fresh');
    expect(await untagged).toBe('u1');
    await settle();
    expect(await a.cache.get('k')).toBe('fresh');
    expect(await a.cache.get('u')).toBe('u1');
  });

  it('clear() supersedes every load in flight', async () => {
    const { instances } = await fleet(1);
    const a = instances[0]!;
    const gate = deferred<string>();
    const load = a.cache.getOrSet('k', () => gate.promise);
    await settle();
    await a.cache.clear();
    gate.resolve('old');
    expect(await load).toBe('old');
    await settle();
    expect(await a.cache.get('k')).toBeUndefined();
    expect(a.engine.keys.busy).toBe(0);
  });
});
