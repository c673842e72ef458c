import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../cli.io';
import type { FetchFn } from '../http/controller.client';
import { historyPath, type LineRunner, parseShellLine, runShell } from './shell.command';

describe('parseShellLine', () => {
  it('reads warren commands as words, dropping a leading "warren"', () => {
    expect(parseShellLine('run "uptime -p" --hosts web1 --wait')).toEqual({
      kind: 'argv',
      argv: ['run', 'uptime -p', '--hosts', 'web1', '--wait'],
    });
    expect(parseShellLine('warren hosts --json')).toEqual({ kind: 'argv', argv: ['hosts', '--json'] });
  });

  it('runs the rest of an @HOSTS line as typed, on those hosts, and waits', () => {
    expect(parseShellLine('@web1,web[01-03,07] ps aux | grep "ng inx" ')).toEqual({
      kind: 'argv',
      argv: ['run', '--hosts', 'web1', 'web[01-03,07]', '--wait', '--', 'ps aux | grep "ng inx"'],
    });
    expect(parseShellLine('@db* -V').kind).toBe('argv');
  });

  it('knows exit, quit, help, blank lines and comments', () => {
    expect(parseShellLine('exit')).toEqual({ kind: 'exit' });
    expect(parseShellLine(' quit ')).toEqual({ kind: 'exit' });
    expect(parseShellLine('help run')).toEqual({ kind: 'help', topic: ['run'] });
    expect(parseShellLine('   ')).toEqual({ kind: 'nothing' });
    expect(parseShellLine('# note')).toEqual({ kind: 'nothing' });
  });

  it('refuses an @ line without a command, a nested shell, and an open quote', () => {
    expect(() => parseShellLine('@web1')).toThrow(/write @HOSTS COMMAND/);
    expect(() => parseShellLine('@ uptime')).toThrow(/write @HOSTS COMMAND/);
    expect(() => parseShellLine('shell')).toThrow(/already in the shell/);
    expect(() => parseShellLine('run "uptime')).toThrow(/unterminated double quote/);
  });
});

describe('historyPath', () => {
  it('is ~/.warren/shell_history unless WARREN_SHELL_HISTORY says otherwise (empty: none)', () => {
    expect(historyPath({ HOME: '/home/op' })).toBe('/home/op/.warren/shell_history');
    expect(historyPath({ HOME: '/home/op', WARREN_SHELL_HISTORY: '/tmp/h' })).toBe('/tmp/h');
    expect(historyPath({ HOME: '/home/op', WARREN_SHELL_HISTORY: '' })).toBeNull();
  });
});

describe('runShell reading a script (stdin not a terminal)', () => {
  let dir = '';
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  async function script(lines: string, run: LineRunner) {
    let out = '';
    let err = '';
    const io: CliIo = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      env: {},
    };
    const input = new PassThrough();
    dir = mkdtempSync(join(tmpdir(), 'warren-shell-'));
    const done = runShell({
      input,
      output: new PassThrough(),
      io,
      run,
      fetch: (() => Promise.reject(new Error('unused'))) as FetchFn,
      historyFile: join(dir, 'h'),
    });
    input.end(lines);
    return { code: await done, out, err };
  }

  it('runs each line in order without a prompt, keeps going after a bad one, and exits with the last status', async () => {
    const seen: string[][] = [];
    const run: LineRunner = async (argv, io) => {
      seen.push(argv);
      await new Promise((r) => setTimeout(r, 5));
      io.stdout.write(`ran ${argv[0]}\n`);
      return argv[0] === 'tasks' ? 1 : 0;
    };
    const r = await script('hosts\nrun "oops\n\n@web1 uptime\ntasks\n', run);
    expect(seen).toEqual([['hosts'], ['run', '--hosts', 'web1', '--wait', '--', 'uptime'], ['tasks']]);
    expect(r.out).toBe('ran hosts\nran run\nran tasks\n');
    expect(r.out).not.toContain('warren>');
    expect(r.err).toBe('warren: unterminated double quote: "oops\n');
    expect(r.code).toBe(1);
  });

  it('stops at exit, and keeps no history for a script', async () => {
    const seen: string[][] = [];
    const r = await script('hosts\nexit\ntasks\n', async (argv) => (seen.push(argv), 0));
    expect(seen).toEqual([['hosts']]);
    expect(r.code).toBe(0);
    expect(() => readFileSync(join(dir, 'h'))).toThrow(/ENOENT/);
  });

  it("shows its own help before the program's", async () => {
    const seen: string[][] = [];
    const r = await script('help\nhelp run\n', async (argv) => (seen.push(argv), 0));
    expect(r.out).toMatch(/@web1,web\[01-03\] uptime -p/);
    expect(seen).toEqual([['help'], ['help', 'run']]);
  });
});
