import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const alias = {
  '@warren/protocol': resolve(__dirname, 'libs/protocol/src'),
  '@warren/amqp': resolve(__dirname, 'libs/amqp/src'),
  '@warren/runtime': resolve(__dirname, 'libs/runtime/src'),
  '@warren/api': resolve(__dirname, 'libs/api/src'),
};

// Unit specs sit beside the code; end-to-end specs start the built apps as real
// processes against the real broker (run `npm run build` first; `npm test` does).
export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias },
  test: {
    reporters: ['default', './test/summary.reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // Units first, then the e2e files (which run two at a time).
          sequence: { groupOrder: 0 },
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'bench/**/*.spec.ts'],
          environment: 'node',
          // One module registry per worker rather than per file: the unit specs share no state
          // through modules (each builds what it tests), and starting ~170 fresh registries took
          // 150 s of a 2-core CI run against 65 s without (CI budget: 30 min).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          sequence: { groupOrder: 1 },
          include: ['test/e2e/**/*.e2e-spec.ts', 'libs/**/*.int-spec.ts', 'apps/**/*.int-spec.ts'],
          environment: 'node',
          testTimeout: 90_000,
          hookTimeout: 90_000,
          // Each e2e file boots its own controller and agents; two cores are plenty for two files at once.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
    ],
  },
});
