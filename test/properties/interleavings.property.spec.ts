import fc from 'fast-check';
import { describe, it } from 'vitest';
import { budget, checkProperty, fuzzing } from './budget.js';
import { commandArbs } from './model/commands.js';
import { runOptionsArb } from './model/world.js';
import { memoryFleet, runBatches } from './support/memory-fleet.js';

/**
 * Interleavings in memory: 2–3 engines over one MemoryBroker, batches of concurrent calls, and
 * a fast-check scheduler choosing the order of every loader completion, tier command, tier reply
 * and bus delivery (with the tier stopped, restarted empty, or its subscribers dropped as
 * commands). This is where "load vs del", "peek vs set", "refresh vs evict" races show up; the
 * oracle is the one the real-Redis runs use.
 *
 * Needs the engine to take a SharedTier (`new CacheEngine(options, codec, sharedTier)`).
 */
const interleaving = (faults: boolean, shared = true) =>
  fc.asyncProperty(
    runOptionsArb(3)
      .map((run) => (shared ? run : { ...run, instances: 1 }))
      .chain((run) =>
        fc.tuple(
          fc.constant(run),
          fc.array(fc.array(fc.oneof(...commandArbs({ ...run, faults, waits: [0], quiesce: 0 })), { minLength: 1, maxLength: 4, size: 'medium' }), {
            minLength: 1,
            maxLength: fuzzing ? 12 : 6,
          }),
          fc.scheduler(),
        ),
      ),
    async ([run, batches, s]) => {
      const fleet = await memoryFleet(run, s, shared);
      // Logical time: the oracle enforces the bus bound between steps, and no L1 TTL ever passes.
      Object.assign(fleet.world.oracle.bounds, { busMs: 500_000, busDownMs: Number.POSITIVE_INFINITY, lifetimeMs: Number.POSITIVE_INFINITY });
      try {
        await runBatches(fleet, s, batches);
      } finally {
        await fleet.close();
      }
    },
  );

describe('an engine without a shared tier keeps the consistency model in every interleaving', () => {
  it(
    'of its loads, reads and invalidations',
    async () => {
      await checkProperty('interleavings, L1 only', interleaving(false, false), { ...budget(200, 100_000), timeout: 10_000 });
    },
    fuzzing ? 3_600_000 : 30_000,
  );
});

describe('engines over one in-memory shared tier keep the consistency model in every interleaving', () => {
  it(
    'with the tier healthy',
    async () => {
      await checkProperty('interleavings', interleaving(false), { ...budget(150, 100_000), timeout: 10_000 });
    },
    fuzzing ? 3_600_000 : 30_000,
  );

  it(
    'with the tier stopped, restarted empty and its subscribers dropped',
    async () => {
      await checkProperty('interleavings with faults', interleaving(true), { ...budget(150, 100_000), timeout: 10_000 });
    },
    fuzzing ? 3_600_000 : 30_000,
  );
});
