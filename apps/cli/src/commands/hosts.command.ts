import type { Command } from 'commander';
import { colorEnabled } from '../cli.io';
import { EXIT } from '../exit-status.table';
import { renderHosts } from '../render/hosts.render';
import { type CommandContext, printJson } from './command.context';

/** `warren hosts`: the agents the controller knows, from their heartbeats. */
export function registerHostsCommand(program: Command, ctx: CommandContext): void {
  program
    .command('hosts')
    .description('list the agents the controller has heard from')
    .option('--json', 'print the API\'s answer')
    .action(async (opts: { json?: boolean }) => {
      const { hosts } = await ctx.client().listHosts();
      if (opts.json) printJson(ctx, { hosts });
      else if (hosts.length === 0) ctx.io.stderr.write('warren: no agent has reported to the controller yet\n');
      else ctx.io.stdout.write(renderHosts(hosts, { color: colorEnabled(ctx.io), now: ctx.now() }));
      ctx.setExit(EXIT.OK);
    });
}
