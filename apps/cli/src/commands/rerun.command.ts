import { foldHosts, type LimitKind, type RerunRequest } from '@warren/api';
import { INVOCATION_STATES, type InvocationState, TERMINAL_STATES } from '@warren/protocol';
import { type Command, InvalidArgumentError } from 'commander';
import { EXIT } from '../exit-status.table';
import { parseLimitFlag } from '../parse/limit.parser';
import { UsageError } from '../cli.errors';
import { type CommandContext, printJson } from './command.context';
import { RAW_HELP, watchTask } from './task.watch';
import { escapeControls } from '../render/terminal.safe';

/** States `--only` may name: the finished ones. */
const FINISHED = INVOCATION_STATES.filter((s) => TERMINAL_STATES.has(s));

/** `failed,timed_out` (also repeatable) → the states, checked. */
function collectStates(text: string, previous: InvocationState[] | undefined): InvocationState[] {
  const states = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '') as InvocationState[];
  const bad = states.find((s) => !FINISHED.includes(s));
  if (bad !== undefined || states.length === 0)
    throw new InvalidArgumentError(
      `expected finished states separated by commas (${FINISHED.join(', ')}), got ${JSON.stringify(bad ?? text)}.`,
    );
  return [...new Set([...(previous ?? []), ...states])];
}

function limit(kind: LimitKind) {
  return (text: string) => {
    try {
      return parseLimitFlag(text, kind);
    } catch (err) {
      throw new InvalidArgumentError(`${(err as Error).message}.`);
    }
  };
}

interface RerunOptions {
  only?: InvocationState[];
  concurrency?: number | string;
  maxErrors?: number | string;
  wait?: boolean;
  stream?: boolean;
  json?: boolean;
  collapse?: boolean;
  raw?: boolean;
}

/** `warren rerun <task-id> [--only failed,…]`: the same command again, on the hosts of a task that ended in those states. */
export function registerRerunCommand(program: Command, ctx: CommandContext): void {
  program
    .command('rerun')
    .description(
      "run a task's command again, as a new task, on its hosts that ended in some states (default: every host that did not succeed)",
    )
    .argument('<task-id>', 'the task to re-run hosts of')
    .option(
      '--only <states>',
      `only hosts in these states, comma separated: ${FINISHED.join(', ')} (default: all but succeeded)`,
      collectStates,
    )
    .option(
      '--concurrency <n|n%>',
      "rolling run: at most n hosts (or n% of them) at once (default: the original task's)",
      limit('concurrency'),
    )
    .option(
      '--max-errors <n|n%>',
      "once more than n hosts (or n%) did not succeed, start no more (default: the original task's)",
      limit('maxErrors'),
    )
    .option('--wait', "wait until every host has finished, show each host's output, and exit 0 only if all succeeded")
    .option(
      '--stream',
      'print each host\'s output lines live as "host | line", then the summary (exit status as with --wait)',
    )
    .option('--json', 'print JSON: {id, hosts, state, rerunOf}, or the whole task with --wait')
    .option('--collapse', 'with --wait: print hosts with identical results once, as one group')
    .option('--raw', RAW_HELP)
    .addHelpText(
      'after',
      `
The new task has the same command, cwd, env, user and timeouts, and records the task it re-runs
(rerunOf in warren check --json). A task with no host in those states is an error (exit 2).

Examples:
  warren rerun t_snk9sc868nrw --wait
  warren rerun t_snk9sc868nrw --only failed --stream
  warren rerun t_snk9sc868nrw --only failed,timed_out --concurrency 2`,
    )
    .action(async (id: string, opts: RerunOptions) => {
      if (opts.stream && (opts.json || opts.collapse))
        throw new UsageError(
          '--stream prints lines as they come: it cannot be combined with --json or --collapse (use --wait)',
        );
      if (opts.collapse && !opts.wait)
        throw new UsageError('--collapse needs --wait (without it, rerun prints only the new task id)');
      const client = ctx.client();
      const body: RerunRequest = {};
      if (opts.only) body.only = opts.only;
      if (opts.concurrency !== undefined) body.concurrency = opts.concurrency;
      if (opts.maxErrors !== undefined) body.maxErrors = opts.maxErrors;
      const accepted = await client.rerunTask(id, body);
      const what = escapeControls(
        `task ${accepted.id} re-runs ${id} on ${accepted.hosts.length} host${accepted.hosts.length === 1 ? '' : 's'}: ${foldHosts(accepted.hosts)}`,
      );
      if (!opts.wait && !opts.stream) {
        if (opts.json) printJson(ctx, accepted);
        else {
          ctx.io.stdout.write(`${escapeControls(accepted.id)}\n`);
          ctx.io.stderr.write(`warren: ${what}\n`);
        }
        return ctx.setExit(EXIT.OK);
      }
      // On a terminal the watch's own first line says it (with what Ctrl-C does).
      if (!ctx.io.stderr.isTTY) ctx.io.stderr.write(`warren: ${what}\n`);
      await watchTask(ctx, client, accepted.id, what, opts);
    });
}
