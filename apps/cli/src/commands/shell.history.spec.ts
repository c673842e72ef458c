import { EventEmitter } from 'node:events';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Interface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { historyPath, keepHistory } from './shell.history';

describe('historyPath', () => {
  it('is ~/.warren/shell_history unless WARREN_SHELL_HISTORY says otherwise (empty: none)', () => {
    expect(historyPath({ HOME: '/home/op' })).toBe('/home/op/.warren/shell_history');
    expect(historyPath({ HOME: '/home/op', WARREN_SHELL_HISTORY: '/tmp/h' })).toBe('/tmp/h');
    expect(historyPath({ HOME: '/home/op', WARREN_SHELL_HISTORY: '' })).toBeNull();
  });
});

describe('keepHistory', () => {
  function setup(dirMode: number) {
    const dir = mkdtempSync(join(tmpdir(), 'warren-hist-'));
    chmodSync(dir, dirMode);
    const rl = new EventEmitter() as unknown as Interface;
    const err: string[] = [];
    const file = join(dir, 'shell_history');
    keepHistory(rl, file, { write: (s: string) => (err.push(s), true) } as never);
    return { dir, file, rl, err };
  }

  it('writes 0600 through a new file: a symlink planted at the history path is replaced, never written through', () => {
    const { dir, file, rl, err } = setup(0o700);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'theirs\n', { mode: 0o666 });
    symlinkSync(victim, file);
    rl.emit('history', ['two', 'one']);
    expect(readFileSync(victim, 'utf8')).toBe('theirs\n');
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(err).toEqual([]);
  });

  it('refuses a folder others can write, once, and the shell goes on', () => {
    const { file, rl, err } = setup(0o777);
    rl.emit('history', ['one']);
    rl.emit('history', ['two', 'one']);
    expect(existsSync(file)).toBe(false);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/cannot keep the history .* writable by others/);
  });
});
