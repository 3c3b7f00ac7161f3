import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

describe('budget', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  // fast-check goes on from a path for numRuns runs: a replay went on for the whole fuzz budget.
  it('replays one run from FUZZ_SEED and FUZZ_PATH under npm run fuzz, unless FUZZ_RUNS says more', async () => {
    vi.stubEnv('FUZZ', '1');
    vi.stubEnv('FUZZ_SEED', '985973901');
    vi.stubEnv('FUZZ_PATH', '1410:14');
    vi.stubEnv('FUZZ_RUNS', undefined);
    vi.resetModules();
    const fuzz = await import('../../properties/budget.js');
    expect(fuzz.budget(150, 100_000)).toMatchObject({ numRuns: 1, seed: 985973901, path: '1410:14' });
    vi.stubEnv('FUZZ_RUNS', '20');
    expect(fuzz.budget(150, 100_000).numRuns).toBe(20);
    vi.stubEnv('FUZZ_PATH', undefined);
    vi.stubEnv('FUZZ_RUNS', undefined);
    expect(fuzz.budget(150, 100_000).numRuns).toBe(100_000);
  });
});
