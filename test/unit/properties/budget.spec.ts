import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { afterAbandonedRun } from '../../properties/budget.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('afterAbandonedRun', () => {
  // fast-check's interruptAfterTimeLimit resolves a run it gave up on without stopping it: the
  // next property's runs overlapped its rest, and its `vi.useRealTimers()` (fuzz seeds 985973893,
  // 985973899, 985973900).
  it('starts the next run, of any property, only once a run fast-check gave up on has ended', async () => {
    const events: string[] = [];
    const slow = afterAbandonedRun(async () => {
      events.push('slow run starts');
      await sleep(100);
      events.push('slow run ends');
    });
    const first = await fc.check(fc.asyncProperty(fc.constant(0), slow), { numRuns: 1, interruptAfterTimeLimit: 10 });
    expect(first.interrupted).toBe(true);
    const next = afterAbandonedRun(async () => void events.push('next run'));
    await fc.assert(fc.asyncProperty(fc.constant(0), next), { numRuns: 1 });
    expect(events).toEqual(['slow run starts', 'slow run ends', 'next run']);
  });

  it('starts the next run after one that failed', async () => {
    const failing = afterAbandonedRun(async () => {
      throw new Error('violation');
    });
    await expect(failing()).rejects.toThrow('violation');
    let ran = false;
    await afterAbandonedRun(async () => void (ran = true))();
    expect(ran).toBe(true);
  });
});
