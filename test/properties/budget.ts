import { appendFileSync } from 'node:fs';
import fc from 'fast-check';

/** Whether this vitest process runs the fuzz budget (`npm run fuzz`). */
export const fuzzing = process.env.FUZZ === '1';

/**
 * Features a fuzz run keeps out of its draws (`FUZZ_AVOID=emptyTenant,hardTimeout`), to look for
 * further defects past one that is known and still open. `npm test` never avoids anything.
 */
export function avoided(feature: string): boolean {
  return (process.env.FUZZ_AVOID ?? '').split(',').includes(feature);
}

/**
 * How much a property runs: `testRuns` in `npm test` (`PROPERTY_RUNS` instead, for StrykerJS); under `npm run fuzz` `FUZZ_RUNS` runs (or
 * `fuzzRuns`), stopping after `FUZZ_SECONDS`, from `FUZZ_SEED` when given. A failure prints its
 * seed and path, so `FUZZ_SEED=<seed> FUZZ_PATH=<path>` replays it. `FUZZ_END_ON_FAILURE=1` reports the first
 * failure without shrinking it (`npm run mutants` only needs to know that a property failed).
 */
export function budget(testRuns: number, fuzzRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : undefined;
  const seconds = process.env.FUZZ_SECONDS !== undefined ? Number(process.env.FUZZ_SECONDS) : undefined;
  // fast-check goes on from a path for numRuns runs: a replay of one counterexample is one run.
  const replay = seed !== undefined && process.env.FUZZ_PATH ? 1 : fuzzRuns;
  return {
    numRuns: fuzzing ? Number(process.env.FUZZ_RUNS ?? replay) : Number(process.env.PROPERTY_RUNS ?? testRuns),
    ...(seed !== undefined && Number.isFinite(seed) ? { seed } : {}),
    // With FUZZ_SEED, replays the one run a failure printed (its shrunk counterexample).
    ...(seed !== undefined && process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
    ...(fuzzing && seconds !== undefined ? { interruptAfterTimeLimit: seconds * 1_000 } : {}),
    ...(fuzzing && process.env.FUZZ_END_ON_FAILURE === '1' ? { endOnFailure: true } : {}),
  };
}

/** The last run `afterAbandonedRun` started, of any property in this process. */
let lastRun: Promise<unknown> = Promise.resolve();

/**
 * Wraps a property's predicate so a run starts only once the previous run has ended, whichever
 * property started it. `interruptAfterTimeLimit` (FUZZ_SECONDS) and `timeout` stop waiting for a
 * run but do not stop it: it goes on in the background into the next runs (the next property's,
 * once a property's time is up) with its fleet, and its `finally` puts the real `Date` back in
 * the middle of theirs. A memory run then dates entries with the fake clock (2027) and tag
 * invalidations with the real one (2026): an entry looked newer than the invalidation of its tag,
 * and three of the fuzz violations of issue 13 (seeds 985973893, 985973899, 985973900) were that.
 */
export function afterAbandonedRun<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return (...args) => {
    const next = lastRun.then(
      () => run(...args),
      () => run(...args),
    );
    lastRun = next.catch(() => undefined);
    return next;
  };
}

/**
 * Runs a property like `fc.assert`, and under `npm run fuzz` also appends its runs, outcome,
 * seed and counterexample to `FUZZ_REPORT` (one JSON line per property) for bench/FUZZ.md.
 */
export async function checkProperty<T>(name: string, property: fc.IAsyncProperty<T> | fc.IProperty<T>, params: fc.Parameters<T>): Promise<void> {
  // performance.now(): memory runs fake Date.
  const started = performance.now();
  const details = await fc.check(property as fc.IAsyncProperty<T>, params);
  const report = process.env.FUZZ_REPORT;
  if (report) {
    appendFileSync(
      report,
      `${JSON.stringify({
        name,
        runs: details.numRuns,
        skipped: details.numSkips,
        failed: details.failed,
        interrupted: details.interrupted,
        seed: details.seed,
        path: details.counterexamplePath,
        counterexample: details.failed ? fc.stringify(details.counterexample) : undefined,
        error: details.failed ? String((details.errorInstance as Error)?.message ?? details.errorInstance).slice(0, 2_000) : undefined,
        ms: Math.round(performance.now() - started),
      })}\n`,
    );
  }
  if (details.failed) {
    const cause = (details.errorInstance as Error)?.message ?? String(details.errorInstance);
    throw new Error(`${name}: ${cause}\n\n${fc.defaultReportMessage(details) ?? ''}`);
  }
}
