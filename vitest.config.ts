import { fileURLToPath } from 'node:url';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    // esbuild emits no decorator metadata, so Nest DI would inject undefined: SWC does.
    swc.vite({
      module: { type: 'es6' },
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: false },
      },
    }),
  ],
  resolve: {
    // One copy of the library in tests: the package's self-reference (and its subpaths,
    // `nestjs-tiered-cache/terminus` -> lib/terminus.ts) points at the sources.
    alias: [
      { find: /^nestjs-tiered-cache$/, replacement: fileURLToPath(new URL('./lib/index.ts', import.meta.url)) },
      { find: /^nestjs-tiered-cache\/(.+)$/, replacement: `${fileURLToPath(new URL('./lib/', import.meta.url))}$1.ts` },
    ],
  },
  test: {
    include: ['test/**/*.spec.ts', 'lib/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
