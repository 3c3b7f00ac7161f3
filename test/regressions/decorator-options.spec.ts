import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { Cacheable, CachePut, type TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { sleep, uniquePrefix } from '../support/app.js';
import { GatedLoader, settlement } from '../support/gated-loader.js';
import { redisSuite } from '../support/redis-suite.js';

/** The upstream each decorated method reads; a test swaps in a loader it controls. */
let upstream: () => Promise<string> = async () => 'v1';

@Injectable()
class Quotes {
  @Cacheable({ key: () => 'quote:grace', ttl: 100, grace: 60_000 })
  async withGrace(): Promise<string> {
    return upstream();
  }

  @Cacheable({ key: () => 'quote:hard', hardTimeout: 50 })
  async withHardTimeout(): Promise<string> {
    return upstream();
  }

  @Cacheable({ key: () => 'quote:soft', ttl: 100, softTimeout: 2_000 })
  async withSoftTimeout(): Promise<string> {
    return upstream();
  }

  @Cacheable({ key: () => 'quote:backoff', ttl: 100, graceBackoff: 0 })
  async withoutBackoff(): Promise<string> {
    return upstream();
  }

  @CachePut({ key: () => 'quote:put', ttl: 100, grace: 60_000 })
  async put(): Promise<string> {
    return upstream();
  }
}

describe('defect 14: @Cacheable and @CachePut apply every entry option they are given', () => {
  const suite = redisSuite();
  // L1 off: these read Redis, so the grace path here does not depend on the L1 one.
  const quotes = async (options: TieredCacheModuleOptions = {}) => {
    const { app, cache } = await suite.app({ keyPrefix: uniquePrefix('decorated'), l1: false, l2Timeout: 2_000, ...options }, { providers: [Quotes] });
    return { quotes: app.get(Quotes), cache };
  };

  it('@Cacheable({ grace }): after ttl the stale value is served at once while the method reloads', async () => {
    const { quotes: q } = await quotes();
    upstream = async () => 'v1';
    expect(await q.withGrace()).toBe('v1');
    await sleep(150);
    const slow = new GatedLoader('v2');
    upstream = slow.load;
    try {
      expect(await settlement(q.withGrace())).toEqual({ value: 'v1' });
    } finally {
      slow.release();
    }
  });

  it('@Cacheable({ hardTimeout }): a caller waits no longer than hardTimeout for the method', async () => {
    const { quotes: q } = await quotes();
    const hung = new GatedLoader('too late');
    upstream = hung.load;
    try {
      expect(await settlement(q.withHardTimeout())).toMatchObject({ error: { name: 'LoaderTimeoutError', timeoutMs: 50 } });
    } finally {
      hung.release();
    }
  });

  it('@Cacheable({ softTimeout }): in the grace period a refresh that answers within softTimeout is what the caller gets', async () => {
    const { quotes: q } = await quotes({ grace: 60_000 });
    upstream = async () => 'v1';
    expect(await q.withSoftTimeout()).toBe('v1');
    await sleep(150);
    upstream = async () => 'v2';
    expect(await q.withSoftTimeout()).toBe('v2');
  });

  it('@Cacheable({ graceBackoff: 0 }): after a failed refresh the next stale read retries the method', async () => {
    const { quotes: q, cache } = await quotes({ grace: 60_000, graceBackoff: 60_000 });
    let runs = 0;
    upstream = async () => (++runs === 1 ? 'v1' : Promise.reject(new Error('upstream down')));
    expect(await q.withoutBackoff()).toBe('v1');
    await sleep(150);
    expect(await q.withoutBackoff()).toBe('v1'); // stale; its refresh fails
    await expect.poll(() => cache.stats().grace.refreshErrors, { timeout: 2_000, interval: 10 }).toBe(1);
    expect(await q.withoutBackoff()).toBe('v1'); // stale; no backoff, so it refreshes again
    await expect.poll(() => runs, { timeout: 2_000, interval: 10 }).toBe(3);
  });

  it('@CachePut({ grace }): the entry it stores is served stale in its grace period while a reader reloads', async () => {
    const { quotes: q, cache } = await quotes();
    upstream = async () => 'v1';
    expect(await q.put()).toBe('v1');
    await sleep(150);
    const slow = new GatedLoader('v2');
    try {
      expect(await settlement(cache.getOrSet('quote:put', slow.load))).toEqual({ value: 'v1' });
    } finally {
      slow.release();
    }
  });
});
