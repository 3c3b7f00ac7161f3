import { describe, expect, it } from 'vitest';
import { createApp, uniquePrefix } from '../support/app.js';
import { GatedLoader, settlement } from '../support/gated-loader.js';
import { redisSuite } from '../support/redis-suite.js';

describe('defect 15: closing an app settles its callers that wait on another instance’s lease', () => {
  const suite = redisSuite();

  it('close() resolves and the waiting caller settles (its own load, or a shutdown error) without waiting for lockWaitTimeout', async () => {
    const keyPrefix = uniquePrefix('shutdown-wait');
    // A long lease and a long wait: nothing here ends by itself within the test.
    const options = { redis: suite.redis.url, keyPrefix, leaseTtl: 20_000, lockWaitTimeout: 20_000, l2Timeout: 2_000 };
    const { cache: a } = await suite.app(options);
    const hung = new GatedLoader('from A');
    const holder = a.getOrSet('report', hung.load);
    await hung.started; // A holds the lease and its loader hangs
    const { app: appB, cache: b } = await createApp(options);
    let closed = false;
    try {
      const waiting = b.getOrSet('report', async () => 'from B');
      waiting.catch(() => undefined); // judged below, once B has closed
      await expect.poll(() => b.stats().lease.waits, { timeout: 2_000, interval: 10 }).toBe(1);
      const closing = appB.close().then(() => (closed = true));
      // Both must happen while A's loader still hangs and long before lockWaitTimeout.
      expect(await settlement(closing)).toEqual({ value: true });
      const outcome = await settlement(waiting);
      expect(outcome).not.toBe('still pending');
      if (typeof outcome === 'object' && 'error' in outcome) expect(outcome.error.message).toMatch(/shut/i);
      else expect(outcome).toEqual({ value: 'from B' });
    } finally {
      hung.release();
      await holder;
      if (!closed) await appB.close();
    }
  });
});
