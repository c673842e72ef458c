import type { Command } from 'commander';
import type { FetchFn } from '../http/controller.client';
import { nodeHttpFetch } from '../http/node-http.fetch';
import type { CommandContext } from './command.context';
import { historyPath } from './shell.history';
import type { LineRunner } from './shell.line-run';
import { SHELL_HELP } from './shell.line';
import { runShell } from './shell.repl';

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
