import { describe, expect, it } from 'vitest';
import { uniquePrefix } from '../support/app.js';
import { GatedLoader } from '../support/gated-loader.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 10: with lock: false, a load that began before another instance’s del() does not store its result', () => {
  const suite = redisSuite();

  it('after a del() elsewhere during the load, no instance reads the value the load computed before it', async () => {
    const keyPrefix = uniquePrefix('lock-false');
    // No bus on A or B: A is not told of B's delete and must not need to be.
    const { cache: a } = await suite.app({ keyPrefix, lock: false, bus: false, l2Timeout: 2_000 });
    const { cache: b } = await suite.app({ keyPrefix, bus: false, l2Timeout: 2_000 });
    const { cache: c } = await suite.app({ keyPrefix, l1: false, l2Timeout: 2_000 });
    const loader = new GatedLoader('price before the update');
    const load = a.getOrSet('price:7', loader.load);
    await loader.started; // A read Redis, missed, and runs the loader
    await b.del('price:7'); // the price changed: B evicts it
    loader.release();
    expect(await load).toBe('price before the update'); // A's caller gets its result
    await a.ping(); // A's connection answers in order: what A wrote for this load has landed
    expect(await c.get('price:7')).toBeUndefined();
    expect(await b.get('price:7')).toBeUndefined();
  });
});
