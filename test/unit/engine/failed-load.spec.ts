import 'reflect-metadata';
import { afterEach, describe, expect, it } from 'vitest';
import { createCodec } from '../../../lib/codec/serializers.js';
import { CacheEngine } from '../../../lib/engine/cache-engine.js';
import { resolveOptions } from '../../../lib/options/resolve-options.js';
import { MemoryBroker } from '../../../lib/shared/memory-shared-tier.js';
import { TieredCacheService } from '../../../lib/tiered-cache.service.js';
import { GatedLoader, nextTurn, settlement } from '../../support/gated-loader.js';

/**
 * Errors are never cached (issue 13): the callers of a failed load get its error, a call made
 * once that error is out runs its own loader — also when the shared tier is away (just after a
 * Redis restart), where the read path never waits for I/O and a load fails within one turn.
 */
const engines: CacheEngine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
});

async function cacheOver(down: boolean) {
  const broker = new MemoryBroker();
  const options = resolveOptions({ redis: 'redis://memory.invalid:6379', lock: false, l1: { max: 100, ttl: 1_000 } });
  const engine = new CacheEngine(options, await createCodec(options.serializer, options.maxValueBytes), broker.tier({ timeoutMs: 50 }));
  await engine.connect();
  engines.push(engine);
  broker.setDown(down);
  return new TieredCacheService(engine);
}

const failing = (message: string) => async (): Promise<string> => {
  throw new Error(message);
};

describe.each([
  ['the shared tier up', false],
  ['the shared tier down', true],
])('a failed load, with %s', (_name, down) => {
  it('reaches every caller that joined it', async () => {
    const cache = await cacheOver(down);
    const gate = new GatedLoader('never');
    const first = cache.getOrSet('k', async () => {
      await gate.load();
      throw new Error('load 1 failed');
    });
    await gate.started;
    const joined = cache.getOrSet('k', async () => 'joined ran its own loader');
    gate.release();
    expect(await settlement(first)).toEqual({ error: new Error('load 1 failed') });
    expect(await settlement(joined)).toEqual({ error: new Error('load 1 failed') });
  });

  it('is not cached: a call made once its error is out runs its own loader', async () => {
    const cache = await cacheOver(down);
    expect(await settlement(cache.getOrSet('k', failing('load 1 failed')))).toEqual({ error: new Error('load 1 failed') });
    expect(await cache.getOrSet('k', async () => 'v2')).toBe('v2');
  });

  it('is not cached for a call made in the next turn, before its caller looked', async () => {
    const cache = await cacheOver(down);
    const first = settlement(cache.getOrSet('k', failing('load 1 failed')));
    await nextTurn();
    expect(await cache.getOrSet('k', async () => 'v2')).toBe('v2');
    expect(await first).toEqual({ error: new Error('load 1 failed') });
  });
});
