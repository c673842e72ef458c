import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { splitHostPatterns } from '@warren/api';
import type { Command } from 'commander';
import { UsageError } from '../cli.errors';
import type { CliIo, OutStream } from '../cli.io';
import type { FetchFn } from '../http/controller.client';
import { nodeHttpFetch } from '../http/node-http.fetch';
import { splitShellWords } from '../parse/shell-words.parser';
import type { CommandContext } from './command.context';
import { answerOf, type InterruptChoice, type InterruptHub } from './interrupt';

/**
 * Runs one line's argv as `warren <argv>` would, against the shell's controller, with this fetch;
 * `interrupts` is the shell's Ctrl-C while the line watches a task.
 */
export type LineRunner = (argv: string[], io: CliIo, fetch: FetchFn, interrupts?: InterruptHub) => Promise<number>;

/** lines kept in the history file */
export const HISTORY_SIZE = 1000;
export const PROMPT = 'warren> ';

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

/** Everything the shell touches: where it reads, where it prompts, where commands print, how it runs them. */
export interface ShellOptions {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  /** the terminal readline draws on (prompt, echo); commands print through `io` */
  output: NodeJS.WritableStream & { isTTY?: boolean };
  io: CliIo;
  run: LineRunner;
  /** the transport each line's requests go through */
  fetch: FetchFn;
  /** null: no history file */
  historyFile: string | null;
}

/** A fetch that, once `signal` aborts, cuts its request and never settles, so an abandoned command just stops. */
function abandonable(base: FetchFn, signal: AbortSignal): FetchFn {
  return (url, init) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) return;
      base(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal }).then(
        resolve,
        (err) => {
          if (!signal.aborted) reject(err);
        },
      );
    });
}

/** Output that can be switched off, so a command the user gave up on prints nothing more. */
function gate(stream: OutStream, live: () => boolean): OutStream {
  return { write: (s) => (live() ? stream.write(s) : true), isTTY: stream.isTTY, columns: stream.columns };
}

function loadHistory(file: string | null): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-HISTORY_SIZE)
      .reverse();
  } catch {
    return [];
  }
}

/**
 * The interactive prompt (a terminal on both ends) or, otherwise, a script reader without a
 * prompt. Each line goes through the same `warren` program, so it behaves as on the command line;
 * a bad line prints its error and the next line is read. Resolves with 0 when an interactive
 * session ends (`exit`, `quit`, Ctrl-D), and with the last line's exit status for a script.
 */
export function runShell(opts: ShellOptions): Promise<number> {
  const interactive = opts.input.isTTY === true && opts.output.isTTY === true;
  const rl = createInterface({
    input: opts.input,
    output: interactive ? opts.output : undefined,
    terminal: interactive,
    prompt: PROMPT,
    history: interactive ? loadHistory(opts.historyFile) : [],
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
  });
  let historyWarned = false;
  if (interactive && opts.historyFile) {
    const file = opts.historyFile;
    rl.on('history', (lines: string[]) => {
      try {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        writeFileSync(file, [...lines].reverse().join('\n') + '\n', { mode: 0o600 });
      } catch (err) {
        if (!historyWarned)
          opts.io.stderr.write(`warren: cannot keep the history in ${file}: ${(err as Error).message}\n`);
        historyWarned = true;
      }
    });
  }

  let last = 0;
  let running: AbortController | null = null;
  /** Ctrl-C handlers of the running line's task watch (cancel or detach), newest last. */
  const watchers: (() => void)[] = [];
  const queue: string[] = [];
  let closed = false;
  let leaving = false;
  let finish: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finish = resolve));

  /** One line; false when it asks to leave. */
  async function runLine(line: string): Promise<boolean> {
    let parsed: ShellLine;
    try {
      parsed = parseShellLine(line);
    } catch (err) {
      opts.io.stderr.write(`warren: ${(err as Error).message}\n`);
      last = 2;
      return true;
    }
    if (parsed.kind === 'nothing') return true;
    if (parsed.kind === 'exit') return false;
    if (parsed.kind === 'help' && parsed.topic.length === 0) opts.io.stdout.write(SHELL_HELP + '\n');
    const argv = parsed.kind === 'help' ? ['help', ...parsed.topic] : parsed.argv;
    const abort = (running = new AbortController());
    const live = () => !abort.signal.aborted;
    const io: CliIo = { stdout: gate(opts.io.stdout, live), stderr: gate(opts.io.stderr, live), env: opts.io.env };
    let stoppedWith = 130;
    const stopped = new Promise<number>((resolve) =>
      abort.signal.addEventListener('abort', () => resolve(stoppedWith)),
    );
    const hub: InterruptHub = {
      onInterrupt(handler) {
        watchers.push(handler);
        return () => {
          const i = watchers.lastIndexOf(handler);
          if (i >= 0) watchers.splice(i, 1);
        };
      },
      ask: (question, signal) => (interactive && !signal.aborted ? askKey(question, signal) : Promise.resolve(null)),
      // a detach ends the line, not the shell: the prompt comes back
      exit(code) {
        stoppedWith = code;
        abort.abort();
      },
    };
    const code = await Promise.race([opts.run(argv, io, abandonable(opts.fetch, abort.signal), hub), stopped]);
    abort.abort(); // whatever the line left behind prints nothing more
    running = null;
    watchers.length = 0;
    last = code;
    return true;
  }

  /**
   * One keypress answers the cancel-or-detach question: c, d, or Ctrl-C (detach); other keys are
   * ignored. Readline's own key handling is set aside meanwhile, so the key is not typed into the
   * next line.
   */
  function askKey(question: string, signal: AbortSignal): Promise<InterruptChoice | null> {
    const input = opts.input;
    opts.output.write(question);
    return new Promise((resolve) => {
      const readlineKeys = input.listeners('keypress') as ((...a: unknown[]) => void)[];
      input.removeAllListeners('keypress');
      const done = (choice: InterruptChoice | null, echo: string): void => {
        input.removeListener('keypress', onKey);
        input.removeListener('end', onEnd);
        signal.removeEventListener('abort', onWithdrawn);
        for (const l of readlineKeys) input.on('keypress', l);
        opts.output.write(`${echo}\n`);
        resolve(choice);
      };
      const onKey = (s: string | undefined, key: { ctrl?: boolean; name?: string } | undefined) => {
        const choice = key?.ctrl && key.name === 'c' ? 'detach' : answerOf(s ?? '');
        if (choice) done(choice, choice === 'cancel' ? 'c' : key?.ctrl ? '^C' : 'd');
      };
      // The task finished before anyone answered: readline gets its keys back.
      const onWithdrawn = (): void => done(null, '(the task has finished)');
      // Nobody left to answer: leave the task running.
      const onEnd = (): void => done('detach', '');
      input.on('keypress', onKey);
      input.once('end', onEnd);
      signal.addEventListener('abort', onWithdrawn, { once: true });
    });
  }

  async function pump(): Promise<void> {
    if (running) return;
    while (queue.length > 0) {
      if (!(await runLine(queue.shift()!))) {
        queue.length = 0;
        leaving = true;
        rl.close();
        return finish(interactive ? 0 : last);
      }
    }
    if (closed) finish(interactive ? 0 : last);
    else if (interactive) rl.prompt();
  }

  rl.on('line', (line) => {
    queue.push(line);
    void pump();
  });
  rl.on('close', () => {
    closed = true;
    // Ctrl-D leaves the cursor after the prompt; `exit` already ended its line.
    if (interactive && !leaving) opts.output.write('\n');
    void pump();
  });
  rl.on('SIGINT', () => {
    if (running && watchers.length > 0) {
      opts.output.write('^C');
      watchers.at(-1)!();
      return;
    }
    if (running) {
      running.abort();
      opts.output.write('^C\n');
      opts.io.stderr.write('warren: stopped; a task it had already sent goes on (warren tasks lists it)\n');
      return;
    }
    clearInput(rl, opts.output);
    rl.prompt();
  });

  if (interactive) rl.prompt();
  return done;
}

/** Like bash on Ctrl-C: `^C` after what was typed, a new line, and an empty input line. */
function clearInput(rl: Interface, output: NodeJS.WritableStream): void {
  rl.write(null, { ctrl: true, name: 'e' });
  output.write('^C');
  // Interface#clearLine (used by Node's own REPL for this) moves past the line and forgets it.
  const withClear = rl as Interface & { clearLine?: () => void };
  if (typeof withClear.clearLine === 'function') withClear.clearLine();
  else {
    output.write('\r\n');
    rl.write(null, { ctrl: true, name: 'u' });
  }
}

/** `~/.warren/shell_history`, or `WARREN_SHELL_HISTORY`; an empty `WARREN_SHELL_HISTORY` keeps none. */
export function historyPath(env: CliIo['env']): string | null {
  if (env.WARREN_SHELL_HISTORY !== undefined) return env.WARREN_SHELL_HISTORY || null;
  return join(env.HOME || homedir(), '.warren', 'shell_history');
}

/**
 * `warren shell`: a prompt that takes the same commands. `run` runs one line's argv through the
 * same program (with the shell's `--url`); `fetch` is the transport it would use.
 */
export function registerShellCommand(
  program: Command,
  ctx: CommandContext,
  run: LineRunner,
  fetch: FetchFn = nodeHttpFetch,
): void {
  program
    .command('shell')
    .description('an interactive prompt that takes the same commands (history, line editing, @hosts command)')
    .addHelpText(
      'after',
      `\n${SHELL_HELP}\nWith stdin not a terminal, it reads commands line by line without a prompt and exits with the last one's status.`,
    )
    .action(async () => {
      const code = await runShell({
        input: process.stdin,
        output: process.stdout,
        io: ctx.io,
        run,
        fetch,
        historyFile: historyPath(ctx.io.env),
      });
      ctx.setExit(code);
    });
}
