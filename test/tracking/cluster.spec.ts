import 'reflect-metadata';
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../lib/l2/key-slot.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { allSee, db, fleetOf, type Instance, trackingOn, warm } from './support.js';

/**
 * Tracking on a loopback Cluster (3 primaries, 1 replica each): tracking is per node, so each
 * instance tracks every primary with a redirect target on the same node, and follows failovers.
 */
describe('tracking on a Redis Cluster', () => {
  let cluster: RedisCluster;
  let raw: Cluster;
  let instances: Instance[] = [];
  let keyPrefix = '';
  const sk = (id: string) => `${keyPrefix}{item:${id}}`;

  /** An id whose entry lives on the primary at `port`. */
  const idOn = async (port: number, name: string) => {
    const nodes = await cluster.topology();
    const primary = nodes.find((n) => n.port === port)!;
    for (let i = 0; ; i++) {
      const slot = keySlot(sk(`${name}${i}`));
      if (primary.slots.some(([a, b]) => slot >= a && slot <= b)) return `${name}${i}`;
    }
  };
  const primaries = async () => (await cluster.topology()).filter((n) => n.role === 'master' && !n.failed && n.slots.length > 0).map((n) => n.port);

  beforeAll(async () => {
    cluster = await RedisCluster.start({ replicas: 1 });
    raw = cluster.rawClient();
  });
  afterEach(async () => {
    await Promise.all(instances.map((i) => i.app.close()));
    instances = [];
  });
  afterAll(async () => {
    await raw?.quit().catch(() => undefined);
    await cluster?.stop();
  });

  it('an external DEL on a key of each shard reaches every instance', async () => {
    ({ keyPrefix, instances } = await fleetOf(3, { cluster: cluster.startupNodes.slice(0, 1) }, { l2Timeout: 2_000 }));
    expect(instances.every((i) => i.cache.stats().tracking.status === 'on')).toBe(true);
    const ports = await primaries();
    expect(ports.length).toBe(3);
    for (const port of ports) {
      const id = await idOn(port, `shard${port}-`);
      await warm(instances, id, 'v1');
      db.set(id, 'v2');
      await raw.del(sk(id));
      expect(await allSee(instances, id, 'v2')).toBe(true);
    }
  });

  it('after a primary fails over, tracking is back on the new primary and L1 was dropped for the gap', async () => {
    ({ keyPrefix, instances } = await fleetOf(3, { cluster: cluster.startupNodes.slice(0, 1) }, { l2Timeout: 2_000 }));
    const [victim] = await primaries();
    const id = await idOn(victim!, 'failover-');
    await warm(instances, id, 'v1');
    const replica = await cluster.replicaPortOf(victim!);

    await cluster.kill(victim!);
    await cluster.waitUntilHealthy(30_000);
    expect(await primaries()).toContain(replica);
    expect(await trackingOn(instances, 20_000)).toBe(true);
    expect(instances.every((i) => i.cache.stats().tracking.gaps >= 1)).toBe(true);

    // The new primary reports changes too.
    const after = await idOn(replica, 'after-');
    await warm(instances, after, 'v1');
    db.set(after, 'v2');
    await raw.del(sk(after));
    expect(await allSee(instances, after, 'v2')).toBe(true);
  });
});
