import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Cacheable } from 'nestjs-tiered-cache';
import { uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

/** The upstream the rate comes from, shared by every instance. */
const upstream = { eur: 'v1' };

@Injectable()
class Rates {
  @Cacheable({ key: () => 'rate:eur', ttl: 60_000, l1Ttl: 100 })
  async eur(): Promise<string> {
    return upstream.eur;
  }
}

describe('defect 8: an L1 copy back-filled from Redis lives for the call’s l1Ttl, not the module’s l1.ttl', () => {
  const suite = redisSuite();
  // No bus: an instance learns of a change in Redis only when its L1 copy lapses.
  const instance = (keyPrefix: string) => suite.app({ keyPrefix, bus: false, l1: { ttl: 60_000 }, l2Timeout: 2_000 }, { providers: [Rates] });

  it('@Cacheable({ l1Ttl }): an instance that read the entry from Redis sees a change made elsewhere within l1Ttl', async () => {
    const keyPrefix = uniquePrefix('l1ttl-decorator');
    const a = await instance(keyPrefix);
    const b = await instance(keyPrefix);
    upstream.eur = 'v1';
    expect(await a.app.get(Rates).eur()).toBe('v1');
    expect(await b.app.get(Rates).eur()).toBe('v1'); // from Redis, back-filled into B's L1
    upstream.eur = 'v2';
    await a.cache.set('rate:eur', 'v2', { ttl: 60_000, l1Ttl: 100 });
    await expect.poll(() => b.app.get(Rates).eur(), { timeout: 2_000, interval: 20 }).toBe('v2');
  });

  it('getOrSet({ l1Ttl }): an instance that read the entry from Redis sees a change made elsewhere within l1Ttl', async () => {
    const keyPrefix = uniquePrefix('l1ttl-call');
    const { cache: a } = await instance(keyPrefix);
    const { cache: b } = await instance(keyPrefix);
    const read = (cache: typeof a) => cache.getOrSet('rate:usd', async () => 'loaded', { ttl: 60_000, l1Ttl: 100 });
    await a.set('rate:usd', 'v1', { ttl: 60_000, l1Ttl: 100 });
    expect(await read(b)).toBe('v1'); // from Redis, back-filled into B's L1
    await a.set('rate:usd', 'v2', { ttl: 60_000, l1Ttl: 100 });
    await expect.poll(() => read(b), { timeout: 2_000, interval: 20 }).toBe('v2');
  });
});
