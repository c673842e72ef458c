import { expandHostPattern, foldHosts, HostPatternError, isGlob } from '@warren/api';
import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../cli.errors';
import { EXIT } from '../exit-status.table';
import type { CreateTaskRequest, DryRunAnswer, TaskAccepted } from '@warren/api';
import type { ControllerClient } from '../http/controller.client';
import { collectLabels } from '../parse/labels.parser';
import { parseLimitFlag } from '../parse/limit.parser';
import { type CommandContext, printJson } from './command.context';
import { type Confirmer, ttyConfirmer } from './confirm.prompt';
import { escapeControls, forTerminal } from '../render/terminal.safe';

/** A run reaching more hosts than this asks first (unless `--yes`); `--confirm-over` or WARREN_CONFIRM_OVER change it. */
export const DEFAULT_CONFIRM_OVER = 50;

/** The flags of `warren run` that say where it runs and how fast. */
export interface TargetingOptions {
  hosts?: string[];
  label?: string[];
  all?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  confirmOver?: number;
  concurrency?: number | string;
  maxErrors?: number | string;
  json?: boolean;
}

function arg<T>(parse: (text: string, previous: T | undefined) => T) {
  return (text: string, previous: T | undefined): T => {
    try {
      return parse(text, previous);
    } catch (err) {
      throw new InvalidArgumentError(`${(err as Error).message}.`);
    }
  };
}

function count(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw new Error(`expected a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Adds the targeting and rolling flags to `cmd` (they appear in its `--help` in this order). */
export function addTargetingOptions(cmd: Command): Command {
  return cmd
    .option(
      '--hosts <host...>',
      'target hosts, space or comma separated: names (web1), ranges (web[01-20], sent to each name), globs ("web*", "db?": matched among online hosts)',
    )
    .option(
      '--label <key=value>',
      'only hosts with this accepted label (repeatable; several must all match); alone, every online host with it',
      arg(collectLabels),
    )
    .option('--all', 'every online host (with --label: every online host with those labels)')
    .option(
      '--dry-run',
      'print the hosts the target resolves to, folded and counted (and those left out), and send nothing',
    )
    .option('--yes', `do not ask before running on more than --confirm-over hosts`)
    .option(
      '--confirm-over <n>',
      `ask before running on more than n hosts (env WARREN_CONFIRM_OVER, default ${DEFAULT_CONFIRM_OVER}); on a non-terminal, refuse without --yes`,
      arg(count),
    )
    .option(
      '--concurrency <n|n%>',
      'rolling run: at most n hosts (or n% of them) at once, the next starting as each finishes',
      arg((t) => parseLimitFlag(t, 'concurrency')),
    )
    .option(
      '--max-errors <n|n%>',
      'with --concurrency: once more than n hosts (or n%) did not succeed, start no more; the rest end skipped',
      arg((t) => parseLimitFlag(t, 'maxErrors')),
    );
}

/** Help text for the targeting flags. */
export const TARGETING_HELP = `
Targeting: --hosts, --label and --all combine as an intersection (--hosts "web*" --label zone=eu:
the web hosts in zone eu); globs, labels and --all match hosts online now with an accepted key,
named hosts are sent to as given. A target that matches nothing is an error (exit 2).
Before running on more than ${DEFAULT_CONFIRM_OVER} hosts (--confirm-over), warren shows them and asks; --yes skips that.
Rolling: --concurrency 5 (or 10%) runs at most that many at once; --max-errors 1 (or 5%) stops
starting hosts once more than that many did not succeed, and the hosts never started end skipped.`;

/** Adds the targeting and rolling fields the user gave to `body`; a usage error when no target was given. */
export function applyTargeting(body: CreateTaskRequest, opts: TargetingOptions): CreateTaskRequest {
  if (opts.all && body.hosts) throw new UsageError('--all cannot be combined with --hosts (narrow --all with --label)');
  if (!opts.all && !body.hosts && !opts.label)
    throw new UsageError('say where to run it: --hosts, --label key=value, or --all');
  if (opts.maxErrors !== undefined && opts.concurrency === undefined)
    throw new UsageError('--max-errors needs --concurrency: with every host started at once, none is left to skip');
  if (opts.label) body.labels = opts.label;
  if (opts.all) body.all = true;
  if (opts.concurrency !== undefined) body.concurrency = opts.concurrency;
  if (opts.maxErrors !== undefined) body.maxErrors = opts.maxErrors;
  return body;
}

/** The confirmation threshold: `--confirm-over`, else WARREN_CONFIRM_OVER, else {@link DEFAULT_CONFIRM_OVER}. */
function threshold(ctx: CommandContext, opts: TargetingOptions): number {
  if (opts.confirmOver !== undefined) return opts.confirmOver;
  const env = ctx.io.env.WARREN_CONFIRM_OVER;
  if (env === undefined || env === '') return DEFAULT_CONFIRM_OVER;
  if (!/^\d+$/.test(env.trim()))
    throw new UsageError(`WARREN_CONFIRM_OVER must be a whole number, got ${JSON.stringify(env)}`);
  return Number(env);
}

/**
 * How many hosts named hosts and ranges stand for, or null when only the controller can tell
 * (globs, labels, all).
 */
function localCount(body: CreateTaskRequest): number | null {
  if (body.labels || body.all || !body.hosts || body.hosts.some(isGlob)) return null;
  try {
    return new Set(body.hosts.flatMap((p) => expandHostPattern(p))).size;
  } catch (err) {
    // The controller says what is wrong with a pattern, in the same words for every client.
    if (err instanceof HostPatternError) return null;
    throw err;
  }
}

/** What a task does, in a few words for a question: its command, `put <dest>` or `get <path>`. */
export function describeRequest(body: CreateTaskRequest): string {
  if (body.put) return `put ${body.put.dest}`;
  if (body.get) return `get ${body.get.path}`;
  return body.command ?? '';
}

/** Notes on stderr the known hosts a target left out and the globs that matched nothing. */
export function noteLeftOut(
  ctx: CommandContext,
  answer: Pick<DryRunAnswer, 'excluded' | 'unmatched'> | TaskAccepted,
): void {
  for (const pattern of answer.unmatched ?? [])
    ctx.io.stderr.write(`warren: --hosts ${escapeControls(pattern)} matched no online host\n`);
  for (const reason of ['offline', 'key not accepted'] as const) {
    const left = (answer.excluded ?? []).filter((e) => e.reason === reason).map((e) => e.host);
    if (left.length > 0)
      ctx.io.stderr.write(
        `warren: left out ${left.length} matching host${left.length === 1 ? '' : 's'} (${reason}): ${escapeControls(foldHosts(left))}\n`,
      );
  }
}

/** `6 hosts: web[1-6]` and what a rolling run would do. */
function renderPreview(given: DryRunAnswer): string {
  const p = forTerminal(given);
  let text = `${p.count} host${p.count === 1 ? '' : 's'}: ${p.folded}\n`;
  for (const e of p.excluded) text += `left out (${e.reason}): ${e.host}\n`;
  if (p.concurrency !== null)
    text += `rolling: at most ${p.concurrency} at once${p.maxErrors !== null ? `; stop starting hosts once more than ${p.maxErrors} did not succeed` : ''}\n`;
  return text;
}

/**
 * Settles where a run goes before anything is sent. With `--dry-run`, prints what the target
 * resolves to and returns null (exit 0). Otherwise, when the target may reach more hosts than the
 * threshold, resolves it and asks (a non-terminal without `--yes` is refused with a usage error,
 * never left hanging); a "no" returns null (exit 2). Once the controller has resolved the target,
 * the returned body names exactly the hosts shown, so what was confirmed is what runs.
 */
export async function settleTarget(
  ctx: CommandContext,
  client: ControllerClient,
  body: CreateTaskRequest,
  opts: TargetingOptions,
  confirm: Confirmer = ctx.confirm ?? ttyConfirmer(),
): Promise<CreateTaskRequest | null> {
  if (opts.dryRun) {
    const preview = await client.previewTask(body);
    if (opts.json) printJson(ctx, preview);
    else {
      ctx.io.stdout.write(renderPreview(preview));
      for (const pattern of preview.unmatched)
        ctx.io.stderr.write(`warren: --hosts ${escapeControls(pattern)} matched no online host\n`);
    }
    ctx.setExit(EXIT.OK);
    return null;
  }
  const limit = threshold(ctx, opts);
  const known = localCount(body);
  if (opts.yes || (known !== null && known <= limit)) return body;
  const preview = await client.previewTask(body);
  noteLeftOut(ctx, preview);
  const resolved: CreateTaskRequest = { ...body, hosts: preview.hosts };
  delete resolved.labels;
  delete resolved.all;
  if (preview.count <= limit) return resolved;
  if (!confirm.interactive) {
    throw new UsageError(
      `not run: it would reach ${preview.count} hosts (${preview.folded}), more than ${limit}, and there is no terminal to confirm it; add --yes (or raise --confirm-over / WARREN_CONFIRM_OVER)`,
    );
  }
  const what = describeRequest(body);
  const shown = what.length > 60 ? `${what.slice(0, 57)}...` : what;
  const question = `Run ${JSON.stringify(shown)} on ${preview.count} hosts (${preview.folded})? [y/N] `;
  if (await confirm.ask(escapeControls(question))) return resolved;
  ctx.io.stderr.write('warren: not run\n');
  ctx.setExit(EXIT.USAGE);
  return null;
}
