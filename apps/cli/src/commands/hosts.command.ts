import type { Command } from 'commander';
import type { HostAccepted } from '@warren/api';
import { colorEnabled } from '../cli.io';
import { EXIT } from '../exit-status.table';
import { renderHostKeys, renderHosts } from '../render/hosts.render';
import { forTerminal } from '../render/terminal.safe';
import { type CommandContext, printJson } from './command.context';

/**
 * `accepted web1 key SHA256:… (replaces …)`, `accepted web1 labels role=db` for a change of labels,
 * or `pre-accepted web1 key SHA256:…: awaiting its first heartbeat` for a key not heard lately.
 */
function acceptedLine(given: HostAccepted): string {
  const r = forTerminal(given);
  const labels = Object.entries(r.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (r.accepted === 'labels') return `accepted ${r.host} labels ${labels || '(none)'}\n`;
  if (r.accepted === 'pre-accepted')
    return `pre-accepted ${r.host} key ${r.keyId}: awaiting its first heartbeat${r.replaced ? ` (then it replaces ${r.replaced})` : ''}\n`;
  return `accepted ${r.host} key ${r.keyId}${r.replaced ? ` (replaces ${r.replaced})` : ''}${labels ? ` with labels ${labels}` : ''}\n`;
}

/**
 * `warren hosts`: the agents the controller knows, from their heartbeats; `warren hosts keys`,
 * `warren hosts accept <host>`, `warren hosts reject <host>`.
 */
export function registerHostsCommand(program: Command, ctx: CommandContext): void {
  const hosts = program
    .command('hosts')
    .description('list the agents the controller has heard from, with their key trust')
    .option('--json', "print the API's answer")
    .addHelpText(
      'after',
      '\nTRUST: accepted (commands are sent, results stored), pending (a new key: check its fingerprint in\n' +
        '`warren hosts keys`, then `warren hosts accept <host>`, or `warren hosts reject <host>`), changed (the\n' +
        'host announced a key other than the accepted one: it is ignored until accepted; find out why first).\n' +
        'ONBOARDING: the agent logs its key at start ("agent started", keyId). `warren hosts accept <host> --key\n' +
        '<keyId>` accepts that key even when it is not pending (junk keys for the name evicted it, or it was not\n' +
        "heard yet): it is pre-accepted, and the host's next heartbeat signed by it makes it the accepted key.\n" +
        'LABELS: those accepted with the key, which --label selects by; `(pending: …)` are labels the host\n' +
        'announces now and that count only once `warren hosts accept <host>` accepts them.',
    )
    .action(async (opts: { json?: boolean }) => {
      const { hosts: list } = await ctx.client().listHosts();
      if (opts.json) printJson(ctx, { hosts: list });
      else if (list.length === 0) ctx.io.stderr.write('warren: no agent has reported to the controller yet\n');
      else ctx.io.stdout.write(renderHosts(list, { color: colorEnabled(ctx.io), now: ctx.now() }));
      ctx.setExit(EXIT.OK);
    });
  hosts
    .command('keys')
    .description(
      'list accepted, pending and pre-accepted keys with their fingerprints (pending ones expire unheard; ' +
        'pre-accepted ones await their first heartbeat)',
    )
    .option('--json', "print the API's answer")
    .action(async (opts: { json?: boolean }) => {
      const { keys } = await ctx.client().listHostKeys();
      if (opts.json) printJson(ctx, { keys });
      else if (keys.length === 0) ctx.io.stderr.write('warren: no host key is accepted or pending\n');
      else ctx.io.stdout.write(renderHostKeys(keys, { color: colorEnabled(ctx.io), now: ctx.now() }));
      ctx.setExit(EXIT.OK);
    });
  hosts
    .command('accept <host>')
    .description(
      "trust a host's pending key with its labels, or an accepted host's changed labels (admin): from then on " +
        'commands are sent to it and its results stored',
    )
    .option(
      '--key <fingerprint>',
      'the key to accept, when the host has announced several (see `warren hosts keys`); a key not heard ' +
        "lately (its fingerprint from the agent's log) is pre-accepted: the host's next heartbeat signed by it " +
        'makes it the accepted key, replacing the accepted one only then',
    )
    .option('--json', "print the API's answer")
    .action(async (host: string, opts: { key?: string; json?: boolean }) => {
      const r = await ctx.client().acceptHost(host, opts.key);
      if (opts.json) printJson(ctx, r);
      else ctx.io.stdout.write(acceptedLine(r));
      ctx.setExit(EXIT.OK);
    });
  hosts
    .command('reject <host>')
    .description(
      "forget a host's pending key for good (admin): its heartbeats are ignored from then on; or, with --key, " +
        'withdraw its pre-accepted key',
    )
    .option(
      '--key <fingerprint>',
      'the key to reject, when the host has announced several (see `warren hosts keys`), or the pre-accepted one',
    )
    .option('--json', "print the API's answer")
    .action(async (host: string, opts: { key?: string; json?: boolean }) => {
      const r = await ctx.client().rejectHost(host, opts.key);
      if (opts.json) printJson(ctx, r);
      else if (r.preAccepted)
        ctx.io.stdout.write(`withdrew ${forTerminal(r.host)} pre-accepted key ${forTerminal(r.keyId)}\n`);
      else ctx.io.stdout.write(`rejected ${forTerminal(r.host)} key ${forTerminal(r.keyId)}\n`);
      ctx.setExit(EXIT.OK);
    });
}
