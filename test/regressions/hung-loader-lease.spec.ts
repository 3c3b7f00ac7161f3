import { describe, expect, it, vi } from 'vitest';
import { uniquePrefix } from '../support/app.js';
import { GatedLoader, settlement } from '../support/gated-loader.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 16: a hung loader does not keep its lease forever when hardTimeout is set', () => {
  const suite = redisSuite();

  it('another instance takes the lease over and runs its own loader once the holder’s hardTimeout has passed', async () => {
    const keyPrefix = uniquePrefix('hung-lease');
    const { cache: a } = await suite.app({ keyPrefix, leaseTtl: 300, l2Timeout: 2_000 });
    // B would wait a minute, then fail: only a lease that lapses lets it load in time.
    const { cache: b } = await suite.app({ keyPrefix, leaseTtl: 300, lockWaitTimeout: 60_000, onLockTimeout: 'error', l2Timeout: 2_000 });
    const hung = new GatedLoader('from A');
    try {
      await expect(a.getOrSet('report', hung.load, { hardTimeout: 200 })).rejects.toMatchObject({ name: 'LoaderTimeoutError' });
      expect(a.stats().lease.acquired).toBe(1);
      const loadB = vi.fn(async () => 'from B');
      expect(await settlement(b.getOrSet('report', loadB), 2_000)).toEqual({ value: 'from B' });
      expect(loadB).toHaveBeenCalledTimes(1);
    } finally {
      hung.release();
    }
  });
});
