import { splitHostPatterns } from '@warren/api';
import { UsageError } from '../cli.errors';
import { splitShellWords } from '../parse/shell-words.parser';

/** What one line of the shell asks for. */
export type ShellLine =
  { kind: 'nothing' } | { kind: 'exit' } | { kind: 'help'; topic: string[] } | { kind: 'argv'; argv: string[] };

/**
 * Reads one line: `exit`/`quit`; `help [command]`; `@HOSTS COMMAND…` (run the rest of the line, as
 * typed, on HOSTS — comma separated, ranges and globs allowed — and wait); otherwise the words of a
 * `warren` command line (a leading `warren` is dropped, so pasted commands work). Blank lines and
 * `#` comments are nothing. Throws {@link UsageError} for what cannot be read.
 */
export function parseShellLine(line: string): ShellLine {
  const text = line.trim();
  if (text === '' || text.startsWith('#')) return { kind: 'nothing' };
  if (text.startsWith('@')) {
    const m = /^@(\S+)(?:\s+([\s\S]*))?$/.exec(text);
    const hosts = splitHostPatterns(m?.[1] ?? '');
    const command = m?.[2]?.trim() ?? '';
    if (hosts.length === 0 || command === '')
      throw new UsageError('write @HOSTS COMMAND, e.g. @web1,web[01-03] uptime');
    // `--` so that a command starting with "-" is not read as a flag
    return { kind: 'argv', argv: ['run', '--hosts', ...hosts, '--wait', '--', command] };
  }
  const words = splitShellWords(text);
  if (words[0] === 'warren') words.shift();
  if (words.length === 0) return { kind: 'nothing' };
  if (words[0] === 'exit' || words[0] === 'quit') return { kind: 'exit' };
  if (words[0] === 'help') return { kind: 'help', topic: words.slice(1) };
  if (words[0] === 'shell') throw new UsageError('already in the shell');
  return { kind: 'argv', argv: words };
}

/** What a line may say, for `help` in the shell and `warren shell --help`. */
export const SHELL_HELP = `Type warren commands without "warren", one per line:
  hosts                                    the agents the controller knows
  run "uptime" --hosts web1 web2 --wait    any warren command, with the same flags
  @web1,web[01-03] uptime -p               run the rest of the line on those hosts and wait
  check <task-id>    tasks    help <command>
  exit, quit or Ctrl-D                     leave
Words are split as sh does (quotes, backslashes); nothing is expanded. Up and down arrows walk the
history, kept in ~/.warren/shell_history. Ctrl-C clears the line; while a line waits on a task it
asks: [c]ancel the task on every host, or [d]etach (stop waiting; the task goes on).
`;
