import { describe, expect, it } from 'vitest';
import { UsageError } from '../cli.errors';
import { splitShellWords } from './shell-words.parser';

describe('splitShellWords', () => {
  it.each([
    ['run uptime --hosts web1', ['run', 'uptime', '--hosts', 'web1']],
    ['  run   "df -h /"\t--wait  ', ['run', 'df -h /', '--wait']],
    [`run 'echo "$HOME" \\n' --hosts a`, ['run', 'echo "$HOME" \\n', '--hosts', 'a']],
    ['run "say \\"hi\\" \\\\ \\$X \\n"', ['run', 'say "hi" \\ $X \\n']],
    ['a\\ b c\\"d', ['a b', 'c"d']],
    [`x'y'"z" ''`, ['xyz', '']],
    ['hosts # what is up', ['hosts']],
    ['run a#b', ['run', 'a#b']],
    ['--hosts web* db? web[01-03]', ['--hosts', 'web*', 'db?', 'web[01-03]']],
    ['', []],
  ])('splits %j', (line, words) => {
    expect(splitShellWords(line)).toEqual(words);
  });

  it.each([
    [`run 'uptime`, /unterminated single quote: 'uptime/],
    ['run "uptime --hosts a', /unterminated double quote: "uptime --hosts a/],
    ['run "a\\"', /unterminated double quote/],
    ['run a\\', /ends with a backslash/],
  ])('refuses %j', (line, message) => {
    expect(() => splitShellWords(line)).toThrow(UsageError);
    expect(() => splitShellWords(line)).toThrow(message);
  });
});
