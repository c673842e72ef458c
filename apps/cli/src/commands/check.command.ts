import type { Command } from 'commander';
import { EXIT } from '../exit-status.table';
import { type CommandContext, showTask } from './command.context';
import { waitForTask } from './task.poller';

/** `warren check <task-id>` (alias `check_task`): shows a task; exits 4 if it is still running and `--wait` was not given. */
export function registerCheckCommand(program: Command, ctx: CommandContext): void {
  program
    .command('check')
    .alias('check_task')
    .description('show a task\'s results, host by host')
    .argument('<task-id>', 'as printed by warren run')
    .option('--wait', 'wait until every host has finished')
    .option('--json', 'print the task as the API returns it')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean }) => {
      const client = ctx.client();
      const task = opts.wait ? await waitForTask(client, id, ctx.poll) : await client.getTask(id);
      const code = showTask(ctx, task, opts.json === true);
      if (task.state !== 'running') return ctx.setExit(code);
      ctx.io.stderr.write(`warren: task ${task.id} still running\n`);
      ctx.setExit(EXIT.STILL_RUNNING);
    });
}
