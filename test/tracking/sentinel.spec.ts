import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisSentinelSet } from '../support/redis-sentinel.js';
import { allSee, db, fleetOf, type Instance, trackingOn, warm } from './support.js';

/**
 * Tracking behind Sentinel (one primary, one replica, three sentinels): both of an instance's
 * tracking connections ask the sentinels for the primary when they reconnect, so after a failover
 * tracking is on the new primary.
 */
describe('tracking behind Sentinel', () => {
  let sentinel: RedisSentinelSet;
  let instances: Instance[] = [];

  beforeAll(async () => {
    sentinel = await RedisSentinelSet.start();
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.app.close()));
    instances = [];
  });
  afterAll(async () => {
    await sentinel?.stop();
  });

  it('an external DEL reaches every instance, before and after the primary fails over', async () => {
    let keyPrefix: string;
    ({ keyPrefix, instances } = await fleetOf(2, { sentinels: sentinel.sentinels, name: sentinel.name }, { l2Timeout: 2_000 }));
    const sk = (id: string) => `${keyPrefix}{item:${id}}`;
    expect(await trackingOn(instances)).toBe(true);

    const primary = await sentinel.primaryPort();
    const before = sentinel.nodeClient(primary);
    await warm(instances, 'a', 'v1');
    db.set('a', 'v2');
    await before.del(sk('a'));
    before.disconnect();
    expect(await allSee(instances, 'a', 'v2')).toBe(true);

    await sentinel.kill(primary);
    const promoted = await sentinel.waitForFailover(primary);
    expect(await trackingOn(instances, 20_000)).toBe(true);
    expect(instances.every((i) => i.cache.stats().tracking.gaps >= 1)).toBe(true);

    const after = sentinel.nodeClient(promoted);
    try {
      await warm(instances, 'b', 'v1');
      db.set('b', 'v2');
      await after.del(sk('b'));
      expect(await allSee(instances, 'b', 'v2')).toBe(true);
    } finally {
      after.disconnect();
    }
  });
});
