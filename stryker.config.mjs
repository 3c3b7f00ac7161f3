// @ts-check
// Every mutant meets the same property runs: a fixed seed and a smaller budget (the workers
// Stryker forks inherit these).
process.env.PROPERTY_RUNS ??= '15';
process.env.FUZZ_SEED ??= '20261129';
// `STRYKER_PART=keys npm run stryker -- --mutate 'lib/keys/**/*.ts'` keeps each part's report.
const part = process.env.STRYKER_PART ?? 'all';

/**
 * StrykerJS on the engine, the entry policy and the key functions, against the unit specs and
 * the in-memory property suites (vitest.stryker.config.ts). `npm run stryker`; a part only with
 * `npm run stryker -- --mutate 'lib/keys/**\/*.ts'`. Results: reports/mutation/ and bench/MUTATION.md.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: ['lib/engine/**/*.ts', 'lib/options/**/*.ts', 'lib/keys/**/*.ts', '!lib/**/*.spec.ts'],
  coverageAnalysis: 'perTest',
  concurrency: 2,
  // Property runs use real timers for tier timeouts and hardTimeout: leave room for a loaded machine.
  timeoutMS: 20_000,
  timeoutFactor: 2,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${part}.html` },
  jsonReporter: { fileName: `reports/mutation/${part}.json` },
  thresholds: { high: 90, low: 80, break: null },
  ignoreStatic: true,
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
