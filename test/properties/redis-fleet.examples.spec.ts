import { describe, expect, it } from 'vitest';
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
});
