import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

const root = resolve(__dirname, '../../../..');

// `npm run chaos`: the long fault runs, too slow for `npm test` on two cores (see docs/reliability.md).
export default defineConfig({
  root,
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: {
      '@warren/protocol': resolve(root, 'libs/protocol/src'),
      '@warren/amqp': resolve(root, 'libs/amqp/src'),
      '@warren/runtime': resolve(root, 'libs/runtime/src'),
      '@warren/api': resolve(root, 'libs/api/src'),
    },
  },
  test: {
    include: ['test/e2e/faults/chaos/**/*.chaos-spec.ts'],
    reporters: ['default', './test/summary.reporter.ts'],
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 600_000,
    fileParallelism: false,
  },
});
