import type { Command } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import { type CommandContext, showTask } from './command.context';
import { followTask } from './stream.follow';
import { RAW_HELP } from './task.watch';
import { waitForTask } from './task.poller';

interface CheckOptions {
  wait?: boolean;
  follow?: boolean;
  json?: boolean;
  collapse?: boolean;
  raw?: boolean;
}

/** `warren check <task-id>` (alias `check_task`): shows a task; exits 4 if it is still running and `--wait` was not given. */
export function registerCheckCommand(program: Command, ctx: CommandContext): void {
  program
    .command('check')
    .alias('check_task')
    .description("show a task's results, host by host")
    .argument('<task-id>', 'as printed by warren run')
    .option('--wait', 'wait until every host has finished')
    .option(
      '--follow',
      'print each host\'s output live as "host | line" (stderr: "host ! line") until every host has finished, then each host\'s state and the summary',
    )
    .option('--json', 'print the task as the API returns it (with --collapse: groups instead of results)')
    .option(
      '--collapse',
      'print hosts with identical state, exit code and output once, as one group headed by their folded names (web[01-40])',
    )
    .option('--raw', RAW_HELP)
    .action(async (id: string, opts: CheckOptions) => {
      const client = ctx.client();
      if (opts.follow) {
        if (opts.json || opts.collapse)
          throw new UsageError(
            '--follow prints lines as they come: it cannot be combined with --json or --collapse (use --wait)',
          );
        return ctx.setExit(await followTask(ctx, client, id, opts.raw));
      }
      const task = opts.wait ? await waitForTask(client, id, ctx.poll) : await client.getTask(id);
      const code = showTask(ctx, task, opts.json === true, opts.collapse === true, opts.raw === true);
      if (task.state !== 'running') return ctx.setExit(code);
      ctx.io.stderr.write(`warren: task ${task.id} still running\n`);
      ctx.setExit(EXIT.STILL_RUNNING);
    });
}
