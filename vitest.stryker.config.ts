import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The specs StrykerJS runs against each mutant of lib/engine, lib/options and lib/keys
 * (stryker.config.mjs): the unit specs and the in-memory property suites, none that needs a
 * real Redis. The property budget is lowered (PROPERTY_RUNS) and the seed fixed (stryker.config.mjs)
 * so every mutant meets the same runs. (Not `mergeConfig`: it would add to the base's `include`.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/unit/**/*.spec.ts', 'test/properties/interleavings*.spec.ts'],
    // The examples spec holds failing tests of open defects (Stryker needs a green start).
    exclude: ['test/unit/shared/keyv-shared-tier.spec.ts', 'test/properties/interleavings.examples.spec.ts', '**/node_modules/**'],
  },
});
