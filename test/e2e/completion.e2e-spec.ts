import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_COMMAND_MS, Warren } from './harness';

/**
 * Shell completion end to end: the script the built `warren completion` prints, sourced in a real
 * bash and fish, whose host names and task ids come from `warren __complete` asking a real
 * controller that a real agent reports to.
 */
const ROOT = resolve(__dirname, '../..');

describe('warren completion against a real controller', () => {
  const w = new Warren();
  const bin = join(w.dir, 'bin');
  let taskId = '';

  /** Runs `code` in `shell` with `warren` on PATH (the built CLI) and this installation's URL and token. */
  const shell = (name: 'bash' | 'fish', code: string, env: Record<string, string> = {}) => {
    const args = name === 'bash' ? ['--norc', '--noprofile', '-c', code] : ['--no-config', '-c', code];
    return spawnSync(name, args, {
      encoding: 'utf8',
      timeout: SYNC_COMMAND_MS,
      killSignal: 'SIGKILL',
      env: {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        HOME: w.dir,
        WARREN_URL: w.url,
        WARREN_TOKEN: w.token,
        ...env,
      },
    });
  };
  const bash = (words: string[], env: Record<string, string> = {}) => {
    const r = shell(
      'bash',
      `source <(warren completion bash); COMP_WORDS=(${words.map((x) => `'${x}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _warren; printf '%s\\n' "\${COMPREPLY[@]}"`,
      env,
    );
    expect(r.status, r.stderr).toBe(0);
    return { names: r.stdout.split('\n').filter(Boolean).sort(), stderr: r.stderr };
  };

  beforeAll(async () => {
    mkdirSync(bin);
    writeFileSync(join(bin, 'warren'), `#!/bin/sh\nexec '${process.execPath}' '${join(ROOT, 'bin/warren.js')}' "$@"\n`);
    chmodSync(join(bin, 'warren'), 0o755);
    await w.startController();
    await w.startAgent('cmp-web1');
    await w.startAgent('cmp-db1');
    taskId = (await w.runAndWait({ command: 'true', hosts: ['cmp-web1'] })).id;
  });
  afterAll(async () => {
    await w.teardown();
    rmSync(w.dir, { recursive: true, force: true });
  });

  it('bash completes the host names the controller knows after hosts accept and --hosts', () => {
    expect(bash(['warren', 'hosts', 'accept', 'cmp-'])).toEqual({ names: ['cmp-db1', 'cmp-web1'], stderr: '' });
    expect(bash(['warren', 'run', 'uptime', '--hosts', 'cmp-web1', 'cmp-d']).names).toEqual(['cmp-db1']);
  });

  it('bash completes task ids for check, with the --url and --token typed on the line', () => {
    expect(bash(['warren', 'check', '']).names).toContain(taskId);
    const typed = bash(['warren', '--url', w.url, '--token', w.token, 'check', ''], {
      WARREN_URL: 'http://127.0.0.1:9',
      WARREN_TOKEN: '',
    });
    expect(typed.names).toContain(taskId);
  });

  it('offers nothing and prints nothing when the token is refused or the controller is not there', () => {
    expect(bash(['warren', 'hosts', 'accept', ''], { WARREN_TOKEN: 'wrn_not_a_token' })).toEqual({
      names: [],
      stderr: '',
    });
    expect(bash(['warren', 'hosts', 'accept', ''], { WARREN_URL: 'http://127.0.0.1:9' })).toEqual({
      names: [],
      stderr: '',
    });
  });

  it('fish completes host names from the controller', () => {
    const r = shell('fish', `warren completion fish | source; complete -C 'warren hosts reject cmp-w'`);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(['cmp-web1']);
  });
});
