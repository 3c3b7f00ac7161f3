import { describe, expect, it } from 'vitest';
import type { SetOptions, TieredCacheModuleOptions } from 'nestjs-tiered-cache';
import { uniquePrefix } from '../support/app.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 4: set(key, null) with nullTtl 0 evicts the key instead of leaving the old value', () => {
  const suite = redisSuite();

  it.each<[string, TieredCacheModuleOptions, SetOptions]>([
    ['nullTtl: 0 per call', {}, { nullTtl: 0 }],
    ['nullTtl: 0 on the module', { nullTtl: 0 }, {}],
  ])('after set(key, null), neither this instance nor another reads the old value (%s)', async (_name, module, call) => {
    const keyPrefix = uniquePrefix('null-ttl-0');
    const { cache: writer } = await suite.app({ ...module, keyPrefix, l1: { ttl: 60_000 } });
    const { cache: reader } = await suite.app({ ...module, keyPrefix, l1: false });
    await writer.set('profile:7', { name: 'old name' });
    expect(await reader.get('profile:7')).toEqual({ name: 'old name' });
    await writer.set('profile:7', null, call);
    expect(await writer.get('profile:7')).toBeUndefined();
    await expect.poll(() => reader.get('profile:7'), { timeout: 2_000, interval: 20 }).toBeUndefined();
  });
});
