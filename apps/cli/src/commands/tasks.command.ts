import { type Command, InvalidArgumentError } from 'commander';
import { EXIT } from '../exit-status.table';
import { renderTasks } from '../render/tasks.render';
import { type CommandContext, printJson } from './command.context';

/** most tasks the API lists at once */
const MAX_LIMIT = 1000;

function limitOption(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > MAX_LIMIT)
    throw new InvalidArgumentError(`Expected a whole number from 1 to ${MAX_LIMIT}.`);
  return n;
}

/** `warren tasks`: recent tasks, newest first. */
export function registerTasksCommand(program: Command, ctx: CommandContext): void {
  program
    .command('tasks')
    .description('list recent tasks, newest first')
    .option('--limit <n>', 'how many', limitOption, 20)
    .option('--json', "print the API's answer")
    .action(async (opts: { limit: number; json?: boolean }) => {
      const { tasks } = await ctx.client().listTasks(opts.limit);
      if (opts.json) printJson(ctx, { tasks });
      else if (tasks.length === 0) ctx.io.stderr.write('warren: no tasks yet\n');
      else ctx.io.stdout.write(renderTasks(tasks, ctx.now()));
      ctx.setExit(EXIT.OK);
    });
}
