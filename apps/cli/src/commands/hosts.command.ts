import type { Command } from 'commander';
import { colorEnabled } from '../cli.io';
import { EXIT } from '../exit-status.table';
import { renderHosts } from '../render/hosts.render';
import { type CommandContext, printJson } from './command.context';
import { escapeControls } from '../render/terminal.safe';

/** `warren hosts`: the agents the controller knows, from their heartbeats; `warren hosts accept <host>`. */
export function registerHostsCommand(program: Command, ctx: CommandContext): void {
  const hosts = program
    .command('hosts')
    .description('list the agents the controller has heard from, with their key trust')
    .option('--json', "print the API's answer")
    .addHelpText(
      'after',
      '\nTRUST: accepted (commands are sent, results stored), pending (a new key: check its fingerprint, then\n' +
        '`warren hosts accept <host>`), changed (the host announced a key other than the accepted one: it is\n' +
        'ignored until accepted; find out why first).',
    )
    .action(async (opts: { json?: boolean }) => {
      const { hosts: list } = await ctx.client().listHosts();
      if (opts.json) printJson(ctx, { hosts: list });
      else if (list.length === 0) ctx.io.stderr.write('warren: no agent has reported to the controller yet\n');
      else ctx.io.stdout.write(renderHosts(list, { color: colorEnabled(ctx.io), now: ctx.now() }));
      ctx.setExit(EXIT.OK);
    });
  hosts
    .command('accept <host>')
    .description("trust a host's pending key (admin): from then on commands are sent to it and its results stored")
    .option('--key <fingerprint>', 'the key to accept, when the host has announced several (see `warren hosts --json`)')
    .option('--json', "print the API's answer")
    .action(async (host: string, opts: { key?: string; json?: boolean }) => {
      const r = await ctx.client().acceptHost(host, opts.key);
      if (opts.json) printJson(ctx, r);
      else
        ctx.io.stdout.write(
          `${escapeControls(`accepted ${r.host} key ${r.keyId}${r.replaced ? ` (replaces ${r.replaced})` : ''}`)}\n`,
        );
      ctx.setExit(EXIT.OK);
    });
}
