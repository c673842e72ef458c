import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseControllerArgs } from '../config/controller.config';
import { runKeygen } from './keygen.command';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs `warren-controller <argv>` (a keygen) against a fresh state dir (or `dir`), as main does. */
function run(argv: string[], dir = mkdtempSync(join(tmpdir(), 'warren-key-'))) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const { action, config } = parseControllerArgs([...argv, '--state-dir', dir], {});
  if (action.command !== 'keygen') throw new Error(`parsed as ${action.command}`);
  let stdout = '';
  let stderr = '';
  const code = runKeygen(action.out ?? config.keyPath, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr, dir };
}

describe('warren-controller keygen', () => {
  it('writes a key pair (private 0600) and refuses to overwrite it', () => {
    const r = run(['keygen']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^SHA256:/);
    expect(statSync(join(r.dir, 'controller.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(r.dir, 'controller.pub'))).toBe(true);
    expect(run(['keygen'], r.dir)).toMatchObject({ code: 1, stderr: expect.stringMatching(/already exists/) });
    expect(run(['keygen', '--out', join(r.dir, 'other.key')], r.dir).code).toBe(0);
  });
});
