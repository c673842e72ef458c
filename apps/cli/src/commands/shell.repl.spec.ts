import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { CliIo } from '../cli.io';
import type { FetchFn } from '../http/controller.client';
import type { LineRunner } from './shell.line-run';
import { runShell } from './shell.repl';

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

  it("escapes what a line held when its error quotes it: a pasted escape sequence is the shell's data", async () => {
    const r = await script('run "oops \u001b]52;c;cm0gLXJmIH4=\u0007\u009b2J\n', async () => 0);
    expect(r.err).toBe('warren: unterminated double quote: "oops \\x1b]52;c;cm0gLXJmIH4=\\a\\u009b2J\n');
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
