import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import type { CreateTaskRequest } from '@warren/api';
import { commandProblem, cwdProblem, DURATION_FORMAT, envProblem, parseDurationMs } from '@warren/api';
import { collectEnv } from '../parse/env.parser';
import { parseHostList } from '../parse/hosts.parser';
import { type CommandContext, printJson } from './command.context';
import {
  addTargetingOptions,
  applyTargeting,
  noteLeftOut,
  settleTarget,
  TARGETING_HELP,
  type TargetingOptions,
} from './targeting';
import { localSource, uploadSource } from './file.source';
import { RAW_HELP, watchTask } from './task.watch';
import { escapeControls } from '../render/terminal.safe';

interface RunOptions extends TargetingOptions {
  timeout?: number;
  deliveryTimeout?: number;
  killGrace?: number;
  cwd?: string;
  env?: Record<string, string>;
  user?: string;
  wait?: boolean;
  stream?: boolean;
  /** false with --no-live */
  live?: boolean;
  json?: boolean;
  collapse?: boolean;
  raw?: boolean;
  /** `--stdin <file|->` */
  stdin?: string;
}

/** A duration flag; 0 only where no time at all makes sense (`--kill-grace 0`: SIGKILL at once). */
export function duration(allowZero: boolean) {
  return (text: string): number => {
    const ms = parseDurationMs(text);
    if (ms === null || (ms === 0 && !allowZero))
      throw new InvalidArgumentError(`Expected a duration${allowZero ? '' : ' above 0'}: ${DURATION_FORMAT}.`);
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

/**
 * The request body: only what the user gave, so the controller's defaults apply to the rest.
 * The command, `--cwd` and the `--env` flags together are checked by the API's own rules before
 * anything is sent (a 180 KB command or a relative cwd is a {@link UsageError}, exit 2).
 */
export function buildTaskRequest(command: string, opts: RunOptions): CreateTaskRequest {
  const unsendable =
    commandProblem(command) ??
    (opts.cwd === undefined ? null : cwdProblem(opts.cwd, '--cwd')) ??
    (opts.env === undefined ? null : envProblem(opts.env, '--env'));
  if (unsendable) throw new UsageError(unsendable);
  const hosts = parseHostList(opts.hosts ?? []);
  if (opts.hosts && hosts.length === 0) throw new UsageError('--hosts names no host');
  const body = applyTargeting({ command, ...(hosts.length > 0 ? { hosts } : {}) }, opts);
  if (opts.timeout !== undefined) body.timeoutMs = opts.timeout;
  if (opts.deliveryTimeout !== undefined) body.deliveryTimeoutMs = opts.deliveryTimeout;
  if (opts.killGrace !== undefined) body.killGraceMs = opts.killGrace;
  if (opts.env !== undefined) body.env = opts.env;
  if (opts.cwd !== undefined) body.cwd = opts.cwd;
  if (opts.user !== undefined) body.runAs = opts.user;
  if (opts.live === false) body.live = false;
  return body;
}

/** `warren run <command> --hosts …`: sends a task; prints its id, or with `--wait` its results. */
export function registerRunCommand(program: Command, ctx: CommandContext): void {
  addTargetingOptions(program.command('run'))
    .description('run a shell command on hosts; prints the task id, or the results with --wait')
    .argument('<command>', 'the command, run as /bin/sh -c <command> on each host; quote it if it has spaces')
    .option(
      '--timeout <duration>',
      'execution timeout: the agent kills everything the command started after it (default 60s)',
      duration(false),
    )
    .option(
      '--delivery-timeout <duration>',
      "how long the command may wait for a host's agent to take it; after that the host is undelivered (default 60s)",
      duration(false),
    )
    .option('--kill-grace <duration>', 'time between SIGTERM and SIGKILL at the timeout (default 5s)', duration(true))
    .option('--cwd <dir>', "absolute working directory on each host (default: the agent's own)")
    .option('--env <NAME=VALUE>', 'set an environment variable for the command (repeatable)', envOption)
    .option('--user <name>', "run it as this user on each host (the agent's policy decides which users are allowed)")
    .option('--wait', "wait until every host has finished, show each host's output, and exit 0 only if all succeeded")
    .option(
      '--stream',
      'wait, printing each host\'s output live as "host | line" (stderr: "host ! line"), then each host\'s state and the summary; exit as with --wait',
    )
    .option(
      '--no-live',
      "agents send no live output, only each host's result: less broker traffic for chatty commands on many hosts (check --follow then shows each host's lines when it finishes)",
    )
    .option('--json', 'print JSON: {id, hosts, state}, or the whole task with --wait')
    .option(
      '--collapse',
      'with --wait: print hosts with identical state, exit code and output once, as one group headed by their folded names (web[01-40]); with --json, groups instead of results',
    )
    .option('--raw', RAW_HELP)
    .option(
      '--stdin <file>',
      "feed this local file (or, with -, this program's standard input, which must not be a terminal) to the command's standard input on every host; uploaded once, up to the controller's --max-file-size",
    )
    .allowExcessArguments(true)
    .addHelpText(
      'after',
      `
Durations: ${DURATION_FORMAT}.${TARGETING_HELP}
The defaults shown are the controller's: only the options you give are sent.

Examples:
  warren run "df -h /" --hosts web1 web2 --wait
  id=$(warren run "apt-get update" --hosts web1,web2 --timeout 10m); warren check "$id" --wait
  warren run 'echo "$GREETING"' --hosts web1 --env GREETING=hello --cwd /tmp --wait --json
  warren run "uname -r" --hosts web01 web02 web03 --wait --collapse
  warren run "apt-get -y upgrade" --hosts web1 web2 --stream
  warren run "uptime" --hosts 'web[01-20]' --label zone=eu --dry-run
  warren run "systemctl restart app" --label role=web --concurrency 2 --max-errors 1 --wait
  warren run 'tee /etc/motd >/dev/null' --stdin motd.txt --all --wait
  pg_dump app | warren run 'psql app_copy' --stdin - --hosts db2 --wait`,
    )
    .action(async (command: string, opts: RunOptions, cmd: Command) => {
      if (cmd.args.length > 1) {
        throw new UsageError(
          `run takes the command as one argument; quote it: warren run ${JSON.stringify(cmd.args.join(' '))} --hosts …`,
        );
      }
      if (opts.stream && (opts.json || opts.collapse))
        throw new UsageError(
          '--stream prints lines as they come: it cannot be combined with --json or --collapse (use --wait)',
        );
      if (opts.stream && opts.live === false)
        throw new UsageError('--stream prints the live output that --no-live turns off: use one or the other');
      if (opts.collapse && !opts.wait)
        throw new UsageError('--collapse needs --wait (without it, run prints only the task id)');
      const client = ctx.client();
      const request = buildTaskRequest(command, opts);
      // Checked before anything is sent: a terminal on `--stdin -` is refused, a missing file too.
      const input = opts.stdin === undefined ? null : await localSource(opts.stdin, ctx.io, '--stdin');
      const body = await settleTarget(ctx, client, request, opts);
      if (body === null) return; // a dry run, or not confirmed
      if (input) body.stdin = (await uploadSource(client, input)).sha256;
      const accepted = await client.createTask(body);
      noteLeftOut(ctx, accepted);
      if (!opts.wait && !opts.stream) {
        if (opts.json) printJson(ctx, accepted);
        else ctx.io.stdout.write(`${escapeControls(accepted.id)}\n`);
        return ctx.setExit(EXIT.OK);
      }
      await watchTask(ctx, client, accepted.id, `task ${accepted.id} sent to ${accepted.hosts.length} host(s)`, opts);
    });
}
