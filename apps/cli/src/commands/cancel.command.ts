import type { Command } from 'commander';
import { EXIT } from '../exit-status.table';
import { foldHosts } from '@warren/api';
import { parseHostList } from '../parse/hosts.parser';
import { type CommandContext, printJson } from './command.context';
import { escapeControls } from '../render/terminal.safe';

/** `warren cancel <task-id> [--hosts …]`: kill what runs, and stop what has not started. */
export function registerCancelCommand(program: Command, ctx: CommandContext): void {
  program
    .command('cancel <task-id>')
    .description(
      'cancel a task: running commands are killed with their whole process group (SIGTERM, then SIGKILL after the\n' +
        'grace) and end `cancelled`; commands not yet started never run, even on a host that is offline now',
    )
    .option('--hosts <hosts...>', 'only on these hosts of the task (space or comma separated)')
    .option('--json', "print the API's answer")
    .action(async (id: string, opts: { hosts?: string[]; json?: boolean }) => {
      const r = await ctx.client().cancelTask(id, opts.hosts ? parseHostList(opts.hosts) : undefined);
      if (opts.json) printJson(ctx, r);
      else {
        const parts = [
          r.cancelled.length > 0 ? `${r.cancelled.length} not started, cancelled: ${foldHosts(r.cancelled)}` : null,
          r.killing.length > 0 ? `${r.killing.length} running, being killed: ${foldHosts(r.killing)}` : null,
        ].filter(Boolean);
        ctx.io.stdout.write(
          `${escapeControls(`${id}: ${parts.length > 0 ? parts.join('; ') : 'nothing left to cancel (every host had finished)'}`)}\n`,
        );
        if (r.killing.length > 0) ctx.io.stdout.write(`follow with: warren check ${escapeControls(id)} --wait\n`);
      }
      ctx.setExit(EXIT.OK);
    });
}
