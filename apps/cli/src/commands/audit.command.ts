import { type Command, InvalidArgumentError, Option } from 'commander';
import { EXIT } from '../exit-status.table';
import { renderAudit } from '../render/audit.render';
import { type CommandContext, printJson } from './command.context';

/** most records the API returns at once */
const MAX_LIMIT = 1000;

function limitOption(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < 1 || n > MAX_LIMIT)
    throw new InvalidArgumentError(`Expected a whole number from 1 to ${MAX_LIMIT}.`);
  return n;
}

interface AuditOptions {
  limit: number;
  task?: string;
  actor?: string;
  action?: string;
  decision?: 'allowed' | 'denied';
  since?: string;
  json?: boolean;
}

/** `warren audit`: the controller's audit log, newest first (admin tokens only). */
export function registerAuditCommand(program: Command, ctx: CommandContext): void {
  program
    .command('audit')
    .description('show the audit log, newest first: who ran what, where, from where, and what was denied (admin token)')
    .option('--limit <n>', 'how many records', limitOption, 50)
    .option('--task <task-id>', 'only the records of this task')
    .option('--actor <name>', 'only this actor: a token name, anonymous, local:<user>, agent:<host>')
    .option(
      '--action <action>',
      'only this action, e.g. task.create, api.request, token.create, host.accept, agent.rejected',
    )
    .addOption(new Option('--decision <decision>', 'only allowed or only denied').choices(['allowed', 'denied']))
    .option('--since <time>', 'only records at or after this ISO time (2025-01-31T12:00:00Z)')
    .option('--json', "print the API's answer")
    .action(async (opts: AuditOptions) => {
      const { records } = await ctx.client().listAudit({
        limit: opts.limit,
        taskId: opts.task,
        actor: opts.actor,
        action: opts.action,
        decision: opts.decision,
        since: opts.since,
      });
      if (opts.json) printJson(ctx, { records });
      else if (records.length === 0) ctx.io.stderr.write('warren: no audit records match\n');
      else ctx.io.stdout.write(renderAudit(records));
      ctx.setExit(EXIT.OK);
    });
}
