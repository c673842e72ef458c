import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

/**
 * The web console: Preact + TypeScript, built to `dist/console`, which the controller serves at `/`
 * (apps/controller/src/console/console.static.ts). No inline script or style is emitted, so the
 * page runs under the controller's CSP (`script-src 'self'`).
 */
export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  resolve: {
    alias: [
      { find: /^@warren\/api\/(.*)$/, replacement: `${root}/libs/api/src/$1` },
      // The host-list rules read one constant of the wire library (HOST_ID_PATTERN); the rest of it is Node's (crypto, fs).
      { find: /^@warren\/protocol$/, replacement: `${root}/libs/protocol/src/topology.ts` },
    ],
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: `${root}/dist/console`,
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
