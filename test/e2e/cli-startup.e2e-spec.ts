import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `warren` runs once per operator command, so what it loads at start is paid on every call
 * (docs/performance.md). The CLI is one bundle (scripts/cli-bundle.webpack.js) that looks nothing up
 * in node_modules and holds no daemon machinery: neither Nest nor pino nor amqplib, which the shared
 * libraries could drag in through an index that re-exports them.
 */
const ROOT = resolve(__dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'warren-cli-start-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The packages (under node_modules) that `node bin/warren.js …args` loaded, by name. */
function packagesLoaded(args: string[]): string[] {
  const out = join(dir, 'loaded.json');
  const hook = join(dir, 'record-loaded.js');
  writeFileSync(
    hook,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));`,
  );
  const r = spawnSync(process.execPath, ['--require', hook, join(ROOT, 'bin/warren.js'), ...args], {
    encoding: 'utf8',
    timeout: 60_000, // bounded: a blocked worker cannot fire the test's own timeout
    killSignal: 'SIGKILL',
  });
  expect(r.status, r.stderr).toBe(0);
  const files = JSON.parse(readFileSync(out, 'utf8')) as string[];
  const names = files
    .map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1])
    .filter((n): n is string => n !== undefined);
  return [...new Set(names)].sort();
}

describe('warren start-up', () => {
  it('loads no package from node_modules: its two (commander, eventsource-parser) are in its one bundle, and no Nest, pino or amqplib', () => {
    for (const args of [['--version'], ['run', '--help']]) expect(packagesLoaded(args)).toEqual([]);
  });
});
