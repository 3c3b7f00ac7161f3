import fc from 'fast-check';
import { describe, it, vi } from 'vitest';
import { afterAbandonedRun, budget, checkProperty, fuzzing } from './budget.js';
import { commandArbs, scenarioArbs } from './model/commands.js';
import { type PerCall, perCallArb, type RunOptions, runOptionsArb } from './model/world.js';
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
    fc
      // A run in three with a short lease (engine ms), the lease on and per-call options: a loader
      // hung past it while another instance waits shows (defect 16); the
      // others keep lease waits long enough for a shutdown that leaves its waiters to show (defect 15).
      .tuple(runOptionsArb(3), fc.constantFrom(false, false, true))
      .map(([run, shortLease]) =>
        shared ? (shortLease ? { ...run, perCall: true, module: { ...run.module, leaseTtl: SHORT_LEASE_MS, lock: true } } : run) : { ...run, instances: 1 },
      )
      .chain((run) =>
        (run.perCall && shared
          ? // A decorator's own hardTimeout more often than a call's (2 ms: options the decorator drops show, defect 14).
            fc
              .tuple(perCallArb, fc.boolean())
              .map(([o, timed]) => withQuickTimeout(timed ? { ...o, hardTimeout: 150 } : o))
          : fc.constant<PerCall>({})
        ).chain((decorator) => {
          const opts = { ...withQuickTimeouts(run), decorator, faults, disconnects: faults, restarts: shared, waits: [0], quiesce: 0 };
          const batch = fc.array(fc.oneof(...commandArbs(opts)), { minLength: 1, maxLength: 4, size: 'medium' });
          // Scenarios span batches (the engines' clock jumps between two, L1 copies age): a
          // defect that needs a read after something landed everywhere shows there.
          // Those that take real time (L1 TTLs, hung loaders: up to a second each) under fuzzing only.
          const scenarios = shared ? scenarioArbs({ ...opts, realTime: fuzzing }) : [];
          return fc.tuple(
            fc.constant(run),
            fc.constant(decorator),
            fc
              .array(
                scenarios.length > 0
                  ? fc.oneof({ weight: 3, arbitrary: batch.map((b) => [b]) }, ...scenarios.map((arbitrary) => ({ weight: 1, arbitrary })))
                  : batch.map((b) => [b]),
                {
                  minLength: 1,
                  maxLength: fuzzing ? 12 : 6,
                },
              )
              .map((groups) => groups.flat()),
            fc.scheduler(),
            fc.constantFrom(...STEPS_MS),
          );
        }),
      ),
    // A run fast-check gave up on (time limit, timeout) would share the faked Date with the next.
    afterAbandonedRun(async ([run, decorator, batches, s, stepMs]) => {
      // The engines' clock moves in 20 ms steps while the run goes (calls of a batch share a
      // millisecond, as they do on a busy server), and jumps `stepMs` between batches, so entries
      // go stale and expire over a run (grace periods, refreshes) while the oracle's time stays logical.
      vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true, advanceTimeDelta: 20 });
      vi.setSystemTime(1_800_000_000_000);
      // hardTimeout in memory: loaders finish when the scheduler says, within a few ms of real
      // time, so a 150 ms timeout would never fire; 2 ms does, often.
      const fleet = await memoryFleet(withQuickTimeouts(run), s, shared, decorator);
      const step = fleet.step;
      fleet.step = () => {
        step();
        vi.setSystemTime(Date.now() + stepMs);
      };
      // Logical time: the oracle enforces the bus bound between steps, and no L1 TTL ever passes.
      // Wall-clock checks instead: L1 copies expire, hung loaders run, timeouts fire in real time.
      const m = run.module;
      Object.assign(fleet.world.oracle.bounds, {
        busMs: 500_000,
        busDownMs: Number.POSITIVE_INFINITY,
        lifetimeMs: Number.POSITIVE_INFINITY,
        hardTimeoutTimers: false,
        hardTimeoutSlackMs: fuzzing ? 30 : undefined,
        leaseTtlMs: m.leaseTtl ?? DEFAULT_LEASE_MS,
        landed: { l1: m.l1 !== false, tagKnownForMs: m.l1 ? m.l1.ttl : m.bus ? Number.POSITIVE_INFINITY : 0, slackMs: 20 },
      });
      try {
        await runBatches(fleet, s, batches);
      } finally {
        await fleet.close();
        vi.useRealTimers();
      }
    }),
  );

/**
 * How far the engines' clock jumps between two batches, in ms: a 400 ms ttl lapses in 3 batches,
 * or in one (then a 1 s grace period lasts 2 more).
 */
const STEPS_MS = [150, 400] as const;

/** A short `leaseTtl` (ms; renewed every 50 ms), and the default. */
const SHORT_LEASE_MS = 150;
const DEFAULT_LEASE_MS = 2_000;

function withQuickTimeouts(run: RunOptions): RunOptions {
  return run.module.hardTimeout > 0 ? { ...run, module: { ...run.module, hardTimeout: 2 } } : run;
}

/** The same for a decorator's options. */
function withQuickTimeout(options: PerCall): PerCall {
  return options.hardTimeout ? { ...options, hardTimeout: 2 } : options;
}

describe('an engine without a shared tier keeps the consistency model in every interleaving', () => {
  it(
    'of its loads, reads and invalidations',
    async () => {
      await checkProperty('interleavings, L1 only', interleaving(false, false), { ...budget(200, 100_000), timeout: 10_000 });
    },
    fuzzing ? 3_600_000 : 60_000,
  );
});

describe('engines over one in-memory shared tier keep the consistency model in every interleaving', () => {
  it(
    'with the tier healthy',
    async () => {
      await checkProperty('interleavings', interleaving(false), { ...budget(150, 100_000), timeout: 10_000 });
    },
    fuzzing ? 3_600_000 : 60_000,
  );

  it(
    'with the tier stopped, restarted empty and its subscribers dropped',
    async () => {
      await checkProperty('interleavings with faults', interleaving(true), { ...budget(150, 100_000), timeout: 10_000 });
    },
    fuzzing ? 3_600_000 : 60_000,
  );
});
