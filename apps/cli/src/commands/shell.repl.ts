import { createInterface } from 'node:readline';
import type { CliIo } from '../cli.io';
import type { FetchFn } from '../http/controller.client';
import type { InterruptHub } from './interrupt';
import { HISTORY_SIZE, keepHistory, loadHistory } from './shell.history';
import { askKey, clearInput } from './shell.keypress';
import { LineRun, type LineRunner } from './shell.line-run';
import { parseShellLine, SHELL_HELP, type ShellLine } from './shell.line';
import { escapeControls } from '../render/terminal.safe';

/** what the interactive shell shows before each line */
const PROMPT = 'warren> ';

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
  if (interactive && opts.historyFile) keepHistory(rl, opts.historyFile, opts.io.stderr);
  const ask: InterruptHub['ask'] = (question, signal) =>
    interactive && !signal.aborted ? askKey(opts.input, opts.output, question, signal) : Promise.resolve(null);

  let last = 0;
  let running: LineRun | null = null;
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
      opts.io.stderr.write(`warren: ${escapeControls((err as Error).message)}\n`);
      last = 2;
      return true;
    }
    if (parsed.kind === 'nothing') return true;
    if (parsed.kind === 'exit') return false;
    if (parsed.kind === 'help' && parsed.topic.length === 0) opts.io.stdout.write(SHELL_HELP + '\n');
    const argv = parsed.kind === 'help' ? ['help', ...parsed.topic] : parsed.argv;
    running = new LineRun(opts.io, opts.fetch, ask);
    last = await running.run(argv, opts.run);
    running = null;
    return true;
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
    if (running?.watching) {
      opts.output.write('^C');
      running.interrupt();
      return;
    }
    if (running) {
      running.stop();
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
