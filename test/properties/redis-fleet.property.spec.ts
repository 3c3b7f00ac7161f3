import fc from 'fast-check';
import { describe, it } from 'vitest';
import { afterAbandonedRun, budget, checkProperty, fuzzing } from './budget.js';
import { commandArbs } from './model/commands.js';
import { perCallArb, runOptionsArb } from './model/world.js';
import { redisFleets } from './support/redis-fleet.js';

/**
 * Model-based runs against real Redis: 2–3 Nest apps on one redis-server, random options
 * (grace, timeouts, lock, bus, L1 TTL, nullTtl, tags, keyContext, serializer), random commands
 * (service calls and decorated methods on random instances, writes, tag invalidations, clear,
 * background loads) and real faults (SIGSTOP/SIGCONT, SIGKILL + restart, CLIENT KILL TYPE
 * pubsub), each read checked by the oracle (test/properties/model/oracle.ts).
 */
const fleets = redisFleets();

const WAITS = [0, 20, 180, 450] as const;

/** One run: a fleet with `run` options, then the commands, each read checked. */
const fleetProperty = (faults: boolean) =>
  fc.asyncProperty(
    runOptionsArb(3).chain((run) =>
      fc.tuple(
        fc.constant(run),
        run.perCall ? perCallArb : fc.constant({}),
        fc.commands(commandArbs({ ...run, faults, waits: WAITS, quiesce: fuzzing ? 3 : 1 }), {
          maxCommands: fuzzing ? 30 : 14,
          size: fuzzing ? 'large' : 'medium',
        }),
      ),
    ),
    // A run fast-check gave up on (its time budget) may still be stopping or restarting the
    // shared redis-server: the next run waits for it.
    afterAbandonedRun(async ([run, decoratorOptions, cmds]) => {
      await fleets.run(run, cmds, decoratorOptions);
    }),
  );

describe('a fleet on real Redis keeps the README consistency model', () => {
  it(
    'under random operations and options',
    async () => {
      await checkProperty('redis fleet, no faults', fleetProperty(false), { endOnFailure: !fuzzing, ...budget(4, 1_000) });
    },
    fuzzing ? 3_600_000 : 60_000,
  );

  it(
    'under random operations, options and Redis faults (SIGSTOP, restart, pub/sub killed)',
    async () => {
      await checkProperty('redis fleet with faults', fleetProperty(true), { endOnFailure: !fuzzing, ...budget(4, 1_000) });
    },
    fuzzing ? 3_600_000 : 60_000,
  );
});
