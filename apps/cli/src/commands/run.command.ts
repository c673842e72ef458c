import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import type { CreateTaskRequest } from '../http/api.types';
import { parseDurationMs, parseDurationOrZeroMs } from '../parse/duration.parser';
import { collectEnv } from '../parse/env.parser';
import { parseHostList } from '../parse/hosts.parser';
import { type CommandContext, printJson, showTask } from './command.context';
import { waitForTask } from './task.poller';

interface RunOptions {
  hosts: string[];
  timeout?: number;
  deliveryTimeout?: number;
  killGrace?: number;
  cwd?: string;
  env?: Record<string, string>;
  wait?: boolean;
  json?: boolean;
}

const DURATION_HELP = '500ms, 30s, 5m, 1h, or a bare number of seconds';

function duration(allowZero: boolean) {
  return (text: string): number => {
    const ms = allowZero ? parseDurationOrZeroMs(text) : parseDurationMs(text);
    if (ms === null) throw new InvalidArgumentError(`Expected a duration${allowZero ? '' : ' above 0'}: ${DURATION_HELP}.`);
    return ms;
  };
}

function envOption(text: string, previous: Record<string, string> | undefined): Record<string, string> {
  try {
    return collectEnv(text, previous);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}.`);
  }
}

/** The request body: only what the user gave, so the controller's defaults apply to the rest. */
export function buildTaskRequest(command: string, opts: RunOptions): CreateTaskRequest {
  const hosts = parseHostList(opts.hosts);
  if (hosts.length === 0) throw new UsageError('--hosts names no host');
  const body: CreateTaskRequest = { command, hosts };
  if (opts.timeout !== undefined) body.timeoutMs = opts.timeout;
  if (opts.deliveryTimeout !== undefined) body.deliveryTimeoutMs = opts.deliveryTimeout;
  if (opts.killGrace !== undefined) body.killGraceMs = opts.killGrace;
  if (opts.env !== undefined) body.env = opts.env;
  if (opts.cwd !== undefined) body.cwd = opts.cwd;
  return body;
}

/** `warren run <command> --hosts …`: sends a task; prints its id, or with `--wait` its results. */
export function registerRunCommand(program: Command, ctx: CommandContext): void {
  program
    .command('run')
    .description('run a shell command on hosts; prints the task id, or the results with --wait')
    .argument('<command>', 'the command, run as /bin/sh -c <command> on each host; quote it if it has spaces')
    .requiredOption('--hosts <host...>', 'target hosts, space or comma separated')
    .option('--timeout <duration>', 'execution timeout: the agent kills the command\'s process group after it (default 60s)', duration(false))
    .option('--delivery-timeout <duration>', 'how long the command may wait for a host\'s agent to take it; after that the host is undelivered (default 60s)', duration(false))
    .option('--kill-grace <duration>', 'time between SIGTERM and SIGKILL at the timeout (default 5s)', duration(true))
    .option('--cwd <dir>', 'working directory on each host (default: the agent\'s own)')
    .option('--env <NAME=VALUE>', 'set an environment variable for the command (repeatable)', envOption)
    .option('--wait', 'wait until every host has finished, show each host\'s output, and exit 0 only if all succeeded')
    .option('--json', 'print JSON: {id, hosts, state}, or the whole task with --wait')
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      `
Durations: ${DURATION_HELP}.
The defaults shown are the controller's: only the options you give are sent.

Examples:
  warren run "df -h /" --hosts web1 web2 --wait
  id=$(warren run "apt-get update" --hosts web1,web2 --timeout 10m); warren check "$id" --wait
  warren run 'echo "$GREETING"' --hosts web1 --env GREETING=hello --cwd /tmp --wait --json`,
    )
    .action(async (command: string, opts: RunOptions, cmd: Command) => {
      if (cmd.args.length > 1) {
        throw new UsageError(`run takes the command as one argument; quote it: warren run ${JSON.stringify(cmd.args.join(' '))} --hosts …`);
      }
      const client = ctx.client();
      const accepted = await client.createTask(buildTaskRequest(command, opts));
      if (!opts.wait) {
        if (opts.json) printJson(ctx, accepted);
        else ctx.io.stdout.write(`${accepted.id}\n`);
        return ctx.setExit(EXIT.OK);
      }
      if (ctx.io.stderr.isTTY) ctx.io.stderr.write(`warren: task ${accepted.id} sent to ${accepted.hosts.length} host(s); waiting (Ctrl-C stops waiting, not the task)\n`);
      try {
        ctx.setExit(showTask(ctx, await waitForTask(client, accepted.id, ctx.poll), opts.json === true));
      } catch (err) {
        ctx.io.stderr.write(`warren: task ${accepted.id} was sent; see it later with: warren check ${accepted.id}\n`);
        throw err;
      }
    });
}
