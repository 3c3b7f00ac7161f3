import { describe, expect, it } from 'vitest';
import { VersionedDatabase } from '../../properties/model/database.js';
import { type Bounds, Oracle } from '../../properties/model/oracle.js';

/** Single flight on one instance when another instance's eviction is announced late (its retry). */
function setup(bounds: Partial<Bounds> = {}) {
  let t = 1_000;
  const now = () => t;
  const oracle = new Oracle(
    new VersionedDatabase(now),
    { bus: true, busMs: 50, busDownMs: 1_000, lifetimeMs: 10_000, hardTimeout: false, fleetLock: true, ...bounds },
    now,
  );
  return { oracle, advance: (ms: number) => (t += ms) };
}

describe('oracle: evictions announced once their retry lands', () => {
  // fuzz seed 1233927936 (memory, with faults): instance 1's del() resolved while the tier was
  // away and was announced once its retry landed, a batch later, while instance 0's load ran.
  it('allows it when that eviction was unconfirmed (a fault overlapped it) and unsettled: it is announced once its retry lands', () => {
    const { oracle, advance } = setup({ busMs: 50 });
    const fault = oracle.fault('stop');
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    fault.end();
    advance(1_000);
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).not.toThrow();
  });

  it('flags it when that unconfirmed eviction had settled before the first load began', () => {
    const { oracle, advance } = setup({ busMs: 50 });
    const fault = oracle.fault('disconnect');
    oracle.invalidated(oracle.invalidating(1, ['t:a/k0']));
    fault.end();
    advance(1);
    oracle.settled();
    advance(1_000);
    oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'));
    expect(() => oracle.loaderStarted(0, 'a', 'k0', true, oracle.epoch('a', 'k0'))).toThrow(/on instance 0/);
  });
});
