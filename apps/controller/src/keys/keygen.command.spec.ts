import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseControllerArgs } from '../config/controller.config';
import { runKeygen } from './keygen.command';

/** uid and gid of `nobody`, another user than the one running the tests (root, here). */
const NOBODY = 65534;
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

  it('never writes through a planted FILE.tmp: a symlink to a victim file, or a file of another user', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-key-'));
    const victim = join(mkdtempSync(join(tmpdir(), 'warren-victim-')), 'victim');
    dirs.push(dirname(victim));
    writeFileSync(victim, 'victim\n', { mode: 0o644 });
    symlinkSync(victim, join(dir, 'controller.key.tmp'));
    writeFileSync(join(dir, 'controller.pub.tmp'), 'planted\n', { mode: 0o666 });
    chownSync(join(dir, 'controller.pub.tmp'), NOBODY, NOBODY);
    const r = run(['keygen'], dir);
    expect(r).toMatchObject({ code: 0 });
    expect(readFileSync(victim, 'utf8')).toBe('victim\n');
    expect(readFileSync(join(dir, 'controller.pub.tmp'), 'utf8')).toBe('planted\n');
    expect(lstatSync(join(dir, 'controller.key.tmp')).isSymbolicLink()).toBe(true);
    const key = statSync(join(dir, 'controller.key'));
    expect({ mode: (key.mode & 0o777).toString(8), uid: key.uid }).toEqual({ mode: '600', uid: process.getuid!() });
    expect(readFileSync(join(dir, 'controller.key'), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    // no temporary file of ours is left behind
    expect(readdirSync(dir).sort()).toEqual([
      'controller.key',
      'controller.key.tmp',
      'controller.pub',
      'controller.pub.tmp',
    ]);
  });

  it('refuses a directory others can write, or one of another user, saying why and writing nothing', () => {
    const open = mkdtempSync(join(tmpdir(), 'warren-key-'));
    chmodSync(open, 0o777);
    const sticky = mkdtempSync(join(tmpdir(), 'warren-key-'));
    chmodSync(sticky, 0o1777);
    const group = mkdtempSync(join(tmpdir(), 'warren-key-'));
    chmodSync(group, 0o770);
    for (const dir of [open, sticky, group]) {
      const r = run(['keygen', '--out', join(dir, 'k.key')], dir);
      expect(r).toMatchObject({ code: 1, stdout: '' });
      expect(r.stderr).toMatch(/is writable by others \(mode \d+\): refusing to write a secret there/);
      expect(readdirSync(dir)).toEqual([]);
    }
    const theirs = mkdtempSync(join(tmpdir(), 'warren-key-'));
    chownSync(theirs, NOBODY, NOBODY);
    const r = run(['keygen', '--out', join(theirs, 'k.key')], theirs);
    expect(r).toMatchObject({ code: 1 });
    expect(r.stderr).toMatch(new RegExp(`belongs to uid ${NOBODY}, not to this user`));
    expect(readdirSync(theirs)).toEqual([]);
  });
});
