import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { sleep, uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

// With grace, an L1 on and a softTimeout long enough for the refresh to answer the caller, an
// entry that went stale in L1 is refreshed in the background; what the refresh returns is what
// the caller gets.
const graceful = { l2Timeout: 2_000, grace: 60_000, softTimeout: 2_000, l1: { ttl: 60_000 } };

describe('defect 1: a grace refresh of an L1-stale entry reads and writes its own key', () => {
  const suite = redisSuite();

  it('a refresh of one stale key never answers with another key’s value', async () => {
    const { cache } = await suite.app(graceful);
    await cache.getOrSet('product:1', async () => 'product 1 (v1)', { ttl: 100 });
    await cache.getOrSet('product:2', async () => 'product 2 (v1)', { ttl: 100 });
    await sleep(150);
    expect(await cache.getOrSet('product:1', async () => 'product 1 (v2)', { ttl: 60_000 })).toBe('product 1 (v2)');
    expect(await cache.getOrSet('product:2', async () => 'product 2 (v2)', { ttl: 60_000 })).toBe('product 2 (v2)');
  });

  it('a refresh of a stale entry never answers with another tenant’s value (keyContext)', async () => {
    const tenant = new AsyncLocalStorage<string>();
    const { cache } = await suite.app({ ...graceful, keyContext: () => tenant.getStore() });
    const report = (t: string, version: number, ttl: number) => tenant.run(t, () => cache.getOrSet('report', async () => `${t} report v${version}`, { ttl }));
    await report('acme', 1, 100);
    await report('globex', 1, 100);
    await sleep(150);
    expect(await report('acme', 2, 60_000)).toBe('acme report v2');
    expect(await report('globex', 2, 60_000)).toBe('globex report v2');
  });

  it('a refresh of a stale entry never answers with another app’s value (keyPrefix)', async () => {
    const { cache: billing } = await suite.app({ ...graceful, keyPrefix: uniquePrefix('billing') });
    const { cache: shop } = await suite.app({ ...graceful, keyPrefix: uniquePrefix('shop') });
    await billing.getOrSet('config', async () => 'billing secret v1', { ttl: 100 });
    await shop.getOrSet('config', async () => 'shop config v1', { ttl: 100 });
    await sleep(150);
    expect(await billing.getOrSet('config', async () => 'billing secret v2', { ttl: 60_000 })).toBe('billing secret v2');
    expect(await shop.getOrSet('config', async () => 'shop config v2', { ttl: 60_000 })).toBe('shop config v2');
  });

  it('the refreshed value reaches Redis under the entry’s own key, for the other instances', async () => {
    const keyPrefix = uniquePrefix('grace-own-key');
    const { cache: a } = await suite.app({ ...graceful, keyPrefix });
    const { cache: b } = await suite.app({ keyPrefix, l2Timeout: 2_000, l1: false });
    await a.getOrSet('k', async () => 'v1', { ttl: 100 });
    await sleep(150);
    expect(await a.getOrSet('k', async () => 'v2', { ttl: 60_000 })).toBe('v2');
    await expect.poll(() => b.get('k'), { timeout: 2_000, interval: 20 }).toBe('v2');
  });
});
