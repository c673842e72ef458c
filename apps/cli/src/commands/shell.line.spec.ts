import { describe, expect, it } from 'vitest';
import { parseShellLine } from './shell.line';

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
