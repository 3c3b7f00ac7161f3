import { describe, expect, it } from 'vitest';
import { VersionedDatabase } from '../../properties/model/database.js';
import { type Bounds, LoaderFailure, Oracle } from '../../properties/model/oracle.js';
import { sleep } from '../../support/app.js';
import { nextTurn } from '../../support/gated-loader.js';

/** The oracle itself has to be right before its verdicts on the cache mean anything. */
function setup(bounds: Partial<Bounds> = {}) {
  let t = 1_000;
  const now = () => t;
  const db = new VersionedDatabase(now);
  const oracle = new Oracle(db, { bus: true, busMs: 50, busDownMs: 1_000, lifetimeMs: 10_000, hardTimeout: false, fleetLock: true, ...bounds }, now);
  return { db, oracle, advance: (ms: number) => (t += ms), now };
}

describe('oracle', () => {
  it('accepts the current row and rejects another key or tenant', () => {
    const { db, oracle } = setup();
    const row = db.read('a', 'k0');
    expect(() => oracle.checkValue(0, 'a', 'k0', 1_000, row, 'get')).not.toThrow();
    expect(() => oracle.checkValue(0, 'b', 'k0', 1_000, row, 'get')).toThrow(/another key's or tenant's/);
    expect(() => oracle.checkValue(0, undefined, 'k0', 1_000, db.read('', 'k0'), 'get')).toThrow(/another key's or tenant's/);
    expect(() => oracle.checkValue(0, 'a', 'k1', 1_000, row, 'get')).toThrow(/another key's or tenant's/);
  });

  it('forbids the evicting instance an older version at once, others after the bus delay', () => {
    const { db, oracle, advance, now } = setup();
    const old = db.read('a', 'k0');
    db.write('a', 'k0');
    const e = oracle.invalidating(0, ['t:a/k0']);
    advance(5);
    oracle.invalidated(e);
    advance(1);
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed is 1/);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).not.toThrow();
    advance(50);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed is 1/);
  });

  it('allows other instances l1-bound staleness when a fault overlapped the invalidation', () => {
    const { db, oracle, advance, now } = setup();
    const old = db.read('a', 'k0');
    const fault = oracle.fault('stop');
    db.write('a', 'k0');
    const e = oracle.invalidating(0, ['t:a/k0']);
    oracle.invalidated(e);
    fault.end();
    advance(500);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).not.toThrow();
    advance(600);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed/);
  });

  it("bounds an instance's staleness with the bus down by the widest l1Ttl its own calls of the row asked for", () => {
    const { db, oracle, advance, now } = setup({ bus: false, busDownMs: 1_000 + 1_000, l1TtlMs: 1_000 });
    const old = db.read('a', 'k0');
    oracle.l1Ttl(1, 'a', 'k0', 100);
    oracle.l1Ttl(2, 'a', 'k0', 100);
    oracle.l1Ttl(2, 'a', 'k0', 1_000);
    db.write('a', 'k0');
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    advance(1_500);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed is 1/);
    expect(() => oracle.checkValue(2, 'a', 'k0', now(), old, 'get')).not.toThrow();
    advance(600);
    expect(() => oracle.checkValue(2, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed is 1/);
  });

  it('lets a read that overlapped the invalidation return the old version', () => {
    const { db, oracle, advance } = setup();
    const old = db.read('a', 'k0');
    const startedAt = 1_000;
    advance(1);
    db.write('a', 'k0');
    const e = oracle.invalidating(0, ['t:a/k0']);
    oracle.invalidated(e);
    expect(() => oracle.checkValue(0, 'a', 'k0', startedAt, old, 'getOrSet')).not.toThrow();
  });

  it('accepts null only where the row was deleted at an allowed version', () => {
    const { db, oracle, advance } = setup();
    const now = () => advance(1);
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), null, 'get')).toThrow(/returned null/);
    db.write('a', 'k0', false);
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), null, 'get')).not.toThrow();
    db.write('a', 'k0', true);
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), null, 'get')).toThrow(/returned null/);
  });

  it('rejects a value served past ttl + grace', () => {
    const { db, oracle, advance, now } = setup({ lifetimeMs: 100 });
    const row = db.read('a', 'k0');
    advance(101);
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), row, 'get')).toThrow(/past ttl \+ grace/);
  });

  it('flags two loaders of one key at once in a process, and across the fleet with the lease', () => {
    const { oracle } = setup();
    const r = oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instance 0/);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instances 0 and 1/);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', false, oracle.epoch('a', 'k0'))).not.toThrow();
    oracle.loaderEnded(r);
  });

  it("allows a second loader elsewhere when an eviction may have deleted the first one's lease, and only then", () => {
    const { oracle, advance } = setup();
    const before = oracle.epoch('a', 'k0');
    advance(1);
    const e = oracle.invalidating(2, ['t:a/k0']);
    advance(1);
    // Both calls were made before the del; it landed between the first ACQUIRE and the second.
    oracle.loaderStarted(0, 'a', 'k0', true, before);
    advance(1);
    oracle.invalidated(e);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, before)).not.toThrow();
    advance(1);
    // Made after that del resolved: the lease it took is still there.
    const after = oracle.epoch('a', 'k0');
    oracle.loaderStarted(0, 'a', 'k1', true, after);
    expect(() => oracle.loaderStarted(1, 'a', 'k1', true, after)).toThrow(/on instances 0 and 1/);
  });

  it('lets the loads of a shutting-down instance run without the lease', () => {
    const { oracle } = setup();
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    oracle.closing(1);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  it('forbids an instance started after an invalidation settled the old value, even after a fault', () => {
    const { db, oracle, advance, now } = setup();
    const old = db.read('a', 'k0');
    const fault = oracle.fault('disconnect');
    db.write('a', 'k0');
    const e = oracle.invalidating(0, ['t:a/k0']);
    oracle.invalidated(e);
    fault.end();
    advance(1);
    oracle.born(3);
    advance(1);
    expect(() => oracle.checkValue(3, 'a', 'k0', now(), old, 'get')).not.toThrow();
    oracle.settled();
    advance(1);
    oracle.born(4);
    advance(1);
    expect(() => oracle.checkValue(4, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed is 1/);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).not.toThrow();
  });

  it('never settles an invalidation a hung tier overlapped (its retry waits for a timer)', () => {
    const { db, oracle, advance, now } = setup();
    const old = db.read('a', 'k0');
    const fault = oracle.fault('stop');
    db.write('a', 'k0');
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    fault.end();
    advance(1);
    oracle.settled();
    advance(1);
    oracle.born(3);
    advance(1);
    expect(() => oracle.checkValue(3, 'a', 'k0', now(), old, 'get')).not.toThrow();
  });

  it('allows a second loader once an invalidation superseded the first', () => {
    const { oracle } = setup();
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  // fuzz seed 1510519577, path 26:9:1:1:1:1:6 (redis fleet, no faults): race[evict@1(a, k0),
  // getOrSet@1(a, k0, delay 200)] then two getOrSet@1(a, k0). The call came after the evict was
  // invoked (same epoch) but its flight began before @CacheEvict evicted (after its method), so the
  // eviction superseded it and the next callers loaded afresh. README: "Once `@CacheEvict`/`del`/…
  // resolves, this instance never serves the old value" and "A load that started before an
  // eviction never stores its (stale) result".
  it('allows a second loader on one instance when its own eviction, invoked before the first call, landed after it', () => {
    const { oracle, advance } = setup();
    const evict = oracle.invalidating(1, ['t:a/k0']);
    advance(1);
    oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    advance(1);
    oracle.invalidated(evict);
    advance(150);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  it('still flags a second loader on one instance when its own eviction resolved before the first call', () => {
    const { oracle, advance } = setup();
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    advance(1);
    oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    advance(150);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instance 1 \(runs 1 and 2\)/);
  });

  // fuzz seed 1510519573, path 0 (redis fleet, no faults): start getOrSet@0(k0, delay 20) took the
  // lease, getOrSet@1(k0) loaded at once. Replayed by starving the process 150 ms as instance 1's
  // read was out: it timed out (l2Timeout 100) and instance 1 loaded without the lease. README: "a
  // miss sends at most two (the read, then the lease, skipped when the read failed) before the
  // loader runs".
  it('allows loaders on two instances when a Redis command failed or timed out since the first call, and flags them otherwise', () => {
    const { oracle, advance } = setup();
    let trouble = 0;
    oracle.tierTrouble = () => trouble;
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    advance(1);
    const b = oracle.epoch('a', 'k0');
    trouble++;
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, b)).not.toThrow();
    advance(1);
    oracle.loaderStarted(0, 'a', 'k1', true, oracle.epoch('a', 'k1'));
    expect(() => oracle.loaderStarted(1, 'a', 'k1', true, oracle.epoch('a', 'k1'))).toThrow(/on instances 0 and 1/);
  });

  // fuzz seeds 836757595/7/8: A's lease granted, then another instance's clear() deleted it (and
  // resolved) before A's loader started; B, called after, was granted a new lease.
  it('allows loaders on two instances when an eviction ran after the first call was made', () => {
    const { oracle, advance } = setup();
    const a = oracle.epoch('a', 'k0');
    advance(1);
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    advance(1);
    oracle.loaderStarted(0, 'a', 'k0', true, a);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  it('allows them when an eviction was running as the first call was made', () => {
    const { oracle, advance } = setup();
    const clear = oracle.invalidating(1, ['t:a/k0']);
    advance(1);
    const a = oracle.epoch('a', 'k0');
    advance(1);
    oracle.invalidated(clear);
    oracle.loaderStarted(0, 'a', 'k0', true, a);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  // fuzz seed 94322343: instance 1's del() was delivered to instance 0 while its load ran.
  it("allows a second loader on one instance when another instance's eviction may have reached it meanwhile", () => {
    const { oracle, advance } = setup({ busMs: 50 });
    const del = oracle.invalidating(1, ['t:a/k0']);
    const a = oracle.epoch('a', 'k0');
    oracle.loaderStarted(0, 'a', 'k0', true, a);
    oracle.invalidated(del);
    advance(10);
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  // fuzz seed 550800594 (real Redis, bus: false, tracking on): instance 1's del() reached
  // instance 0 through Redis's tracking report while its load ran.
  it('allows it with the bus off when tracking may have delivered the eviction', () => {
    const { oracle, advance } = setup({ bus: false, tracking: true, busMs: 50 });
    const del = oracle.invalidating(1, ['t:a/k0']);
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    oracle.invalidated(del);
    advance(10);
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  // fuzz seed 550800594, path 28, replayed (redis fleet, no faults, on a loaded machine): del@0
  // timed out (l2Timeout) and resolved unconfirmed; its retry a second later deleted again and
  // announced it again on the bus, superseding a load instance 1 had started 1.1 s after the del.
  it("allows a second loader on one instance when another instance's unconfirmed eviction may be announced again by its retry", () => {
    const { oracle, advance } = setup({ busMs: 50, redeliveryMs: 1_100 });
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']), true);
    advance(1_100);
    oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  it('flags it once the retry of an unconfirmed eviction is over', () => {
    const { oracle, advance } = setup({ busMs: 50, redeliveryMs: 1_100 });
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']), true);
    advance(1_151);
    oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instance 1/);
  });

  // fuzz seed 550800594, path 25:11:0:..., replayed with a 600 ms busy-wait after the dels (redis
  // fleet, bus: false, tracking on): instance 0 had the tracking report of instance 1's del and
  // was checking it against Redis (l2Timeout 100 ms) when the event loop stopped; it evicted the
  // key once the loop ran again, superseding a load begun in that turn, 600 ms after the del.
  it('allows it when the event loop was blocked since the eviction resolved, for as long as it was', () => {
    const { oracle, advance } = setup({ bus: false, tracking: true, busMs: 50 });
    const stop = oracle.watchStalls();
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    advance(600);
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
    stop();
  });

  it('flags it when the event loop ran for longer than the delivery bound after the eviction, stalls before it aside', () => {
    const { oracle, advance, now } = setup({ bus: false, tracking: true, busMs: 50 });
    oracle.stall(now() - 1_000, now() - 10);
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    oracle.stall(now() + 10, now() + 40);
    advance(81);
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instance 0/);
  });

  it('lets another instance serve the old version for the bus delay plus the time the event loop was blocked', () => {
    const { db, oracle, advance, now } = setup({ busMs: 50 });
    const old = db.read('a', 'k0');
    db.write('a', 'k0');
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    oracle.stall(now() + 10, now() + 510);
    advance(540);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).not.toThrow();
    advance(20);
    expect(() => oracle.checkValue(1, 'a', 'k0', now(), old, 'get')).toThrow(/oldest allowed is 1/);
  });

  it('flags it when that eviction was delivered before the first load began', () => {
    const { oracle, advance } = setup({ busMs: 50 });
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    advance(51);
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instance 0/);
  });

  it('still flags them when the eviction was over before the first call was made', () => {
    const { oracle, advance } = setup();
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    advance(1);
    const a = oracle.epoch('a', 'k0');
    oracle.loaderStarted(0, 'a', 'k0', true, a);
    expect(() => oracle.loaderStarted(1, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instances 0 and 1/);
  });

  it("accepts a loader's error for the calls that overlapped it, and flags a cached one", async () => {
    const { oracle, advance, now } = setup();
    const startedAt = now();
    const r = oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    const failure = oracle.newFailure(r);
    oracle.loaderEnded(r, failure);
    expect(() => oracle.checkError(0, 'a', 'k0', startedAt, failure, 'getOrSet')).not.toThrow();
    await nextTurn();
    advance(1);
    expect(() => oracle.checkError(0, 'a', 'k0', now(), failure, 'getOrSet')).toThrow(/cached error/);
    expect(() => oracle.checkError(1, 'a', 'k0', startedAt, failure, 'getOrSet')).toThrow(/another call's loader error/);
    expect(() => oracle.checkError(0, 'a', 'k0', startedAt, new LoaderFailure(99, 'x'), 'getOrSet')).toThrow(/another call's/);
  });

  // Issue 13 (npm run fuzz, redis fleet with faults, seed 1876906325): after a restart the read
  // path never left the promise queue, and a call made a few reactions after the loader threw,
  // before its load could have settled, was flagged as getting a cached error.
  it('accepts the error for a call made after the loader threw but in the same turn, not one made a turn later', async () => {
    const { oracle, advance, now } = setup();
    const r = oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    const failure = oracle.newFailure(r);
    oracle.loaderEnded(r, failure);
    advance(1);
    const sameTurn = now();
    expect(() => oracle.checkError(0, 'a', 'k0', sameTurn, failure, 'getOrSet')).not.toThrow();
    await nextTurn();
    expect(() => oracle.checkError(0, 'a', 'k0', sameTurn, failure, 'getOrSet')).not.toThrow();
    advance(1);
    expect(() => oracle.checkError(0, 'a', 'k0', now(), failure, 'getOrSet')).toThrow(/cached error/);
  });

  it('flags any other failure as the cache failing a call', () => {
    const { oracle, now } = setup();
    expect(() => oracle.checkError(0, 'a', 'k0', now(), new Error('ECONNREFUSED'), 'getOrSet')).toThrow(/although no loader of it failed/);
    const timeout = Object.assign(new Error('t'), { name: 'LoaderTimeoutError' });
    expect(() => oracle.checkError(0, 'a', 'k0', now(), timeout, 'getOrSet')).toThrow(/although/);
    const { oracle: withHard } = setup({ hardTimeout: true });
    expect(() => withHard.checkError(0, 'a', 'k0', now(), timeout, 'getOrSet')).not.toThrow();
  });

  it("allows a LoaderTimeoutError only to a call whose own hardTimeout is set (a decorator's or call's 0 beats the module's)", () => {
    const { oracle, now } = setup({ hardTimeout: true });
    const timeout = Object.assign(new Error('t'), { name: 'LoaderTimeoutError' });
    expect(() => oracle.checkError(0, 'a', 'k0', now(), timeout, '@Cacheable', 150)).not.toThrow();
    expect(() => oracle.checkError(0, 'a', 'k0', now(), timeout, '@Cacheable', 0)).toThrow(/although no loader of it failed/);
  });

  it("flags a call that got a value its loader returned after the call's hardTimeout ran out", async () => {
    const { db, oracle, now } = setup({ hardTimeoutTimers: true });
    const startedAt = now();
    const deadline = oracle.deadline(5);
    const r = oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    await sleep(20);
    const late = { ...db.read('a', 'k0')!, run: r.run };
    oracle.loaderEnded(r);
    expect(() => oracle.checkWait(0, 'a', 'k0', startedAt, late, 5, deadline, 'find')).toThrow(/value of loader run 1,.*waited past its hardTimeout/);
  });

  // fuzz seed 550800594, path 28 (real Redis, 14 workers on 2 cores): a call joined a load whose
  // 200 ms loader timer was due before the call's 150 ms hardTimeout; the event loop ran both
  // hundreds of ms late, in that order, and the loader stamped the late hour on its value.
  it("accepts a value whose loader returned before the call's hardTimeout ran out, however late its clock says", async () => {
    const { db, oracle, advance, now } = setup({ hardTimeoutTimers: true });
    const startedAt = now();
    const deadline = oracle.deadline(5);
    const r = oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    advance(500);
    const value = { ...db.read('a', 'k0')!, run: r.run };
    oracle.loaderEnded(r);
    await sleep(20);
    expect(() => oracle.checkWait(0, 'a', 'k0', startedAt, value, 5, deadline, 'find')).not.toThrow();
  });

  it('accepts, past the hardTimeout, a value loaded before it (stale) or stored by a write, and checks nothing without a hardTimeout', async () => {
    const { db, oracle, now } = setup({ hardTimeoutTimers: true });
    const r = oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    const stale = { ...db.read('a', 'k0')!, run: r.run };
    oracle.loaderEnded(r);
    const startedAt = now();
    const deadline = oracle.deadline(5);
    expect(oracle.deadline(0)).toBeUndefined();
    await sleep(20);
    expect(() => oracle.checkWait(0, 'a', 'k0', startedAt, stale, 5, deadline, 'find')).not.toThrow();
    expect(() => oracle.checkWait(0, 'a', 'k0', startedAt, db.read('a', 'k0'), 5, deadline, 'find')).not.toThrow();
    const { oracle: off } = setup();
    expect(off.deadline(5)).toBeUndefined();
  });
});

describe('oracle with overlapping writes', () => {
  it('lets either of two overlapping writes be the one that stays', () => {
    const { db, oracle, advance, now } = setup();
    db.write('a', 'k0');
    const first = oracle.invalidating(0, ['t:a/k0']);
    const v1 = db.read('a', 'k0');
    db.write('a', 'k0');
    const second = oracle.invalidating(0, ['t:a/k0']);
    advance(1);
    oracle.invalidated(second);
    oracle.invalidated(first);
    advance(1);
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), v1, 'get')).not.toThrow();
    db.write('a', 'k0');
    oracle.invalidated(oracle.invalidating(0, ['t:a/k0']));
    advance(1);
    expect(() => oracle.checkValue(0, 'a', 'k0', now(), v1, 'get')).toThrow(/oldest allowed is 3/);
  });

  it('memory runs: a value its loader stamped late because the event loop was blocked is no hardTimeout overrun', () => {
    let t = 1_000;
    let wall = 0;
    const now = () => t;
    const db = new VersionedDatabase(now);
    const bounds: Bounds = { bus: true, busMs: 50, busDownMs: 1_000, lifetimeMs: 10_000, hardTimeout: true, fleetLock: true, hardTimeoutSlackMs: 30 };
    const oracle = new Oracle(db, bounds, now, { wall: () => wall, engine: () => Date.now() });
    const epoch = oracle.epoch('a', 'k0', 150);
    const startedAt = oracle.now();
    const run = oracle.loaderStarted(0, 'a', 'k0', true, epoch);
    run.paused = true;
    // The loader's 20 ms timer was due before the call's 150 ms one, but the process got no CPU
    // for 190 ms: the loader resumed, stamped its row 209 ms after the call started, and the
    // value reached the call before the call's timer could run.
    t += 1;
    wall += 209;
    const row = db.read('a', 'k0')!;
    row.at = oracle.now();
    row.run = run.run;
    oracle.loaderEnded(run);
    expect(() => oracle.checkWait(0, 'a', 'k0', startedAt, row, 150, undefined, 'getOrSet', epoch)).toThrow(/waited past its hardTimeout/);
    oracle.stall(15, 205);
    expect(() => oracle.checkWait(0, 'a', 'k0', startedAt, row, 150, undefined, 'getOrSet', epoch)).not.toThrow();
  });
});
