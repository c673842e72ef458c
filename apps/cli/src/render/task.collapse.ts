import { foldHosts, naturalCompare } from '@warren/api';
import type { InvocationState } from '@warren/protocol';
import type { HostResult, TaskHead, TaskView } from '@warren/api';
import { painter } from './colors';
import {
  headerDetail,
  OUTPUT_FIELDS,
  outputBlock,
  type RenderOptions,
  summaryLines,
  SUMMARY_ORDER,
} from './task.render';
import { forTerminal } from './terminal.safe';

/**
 * Hosts that ended the same way, dshbak -c style: one state, exit code, signal, reason and
 * byte-identical output. `--collapse` prints each group once instead of once per host.
 */
/** The result fields a group's hosts share; `reason` names `<host>` where the controller named a host. */
type SharedResult = Pick<
  HostResult,
  | 'state'
  | 'exitCode'
  | 'signal'
  | 'stdout'
  | 'stderr'
  | 'stdoutBytes'
  | 'stderrBytes'
  | 'stdoutTruncated'
  | 'stderrTruncated'
  | 'reason'
>;

export interface HostGroup extends SharedResult {
  /** natural order */
  hosts: string[];
  /** `web[01-40]`: {@link hosts} folded */
  folded: string;
  count: number;
}

/** `warren run|check --collapse --json`: the task without its per-host results, and the groups instead. */
export interface CollapsedTaskJson extends TaskHead {
  groups: HostGroup[];
}

/** Stands for the host's own name in a reason, so "no agent … host web1" and "… host web2" group together. */
const HOST_MARK = '\u0000';

function hostRegExp(host: string): RegExp {
  // Whole host ids only: host `a` must not match the `a` of "agent".
  return new RegExp(`(?<![A-Za-z0-9._-])${host.replace(/[.]/g, '\\.')}(?![A-Za-z0-9._-])`, 'g');
}

/**
 * What hosts must share to be one group (and a file transfer's hash and whether it changed the host). Output that is not valid UTF-8 (or of an agent that did
 * not say) is shown as text with replacement characters, so equal text does not prove equal bytes:
 * such a host is a group of its own.
 */
function groupKey(r: HostResult, reason: string | null): string {
  if (r.stdoutUtf8 !== true || r.stderrUtf8 !== true) return JSON.stringify(['bytes', r.host]);
  return JSON.stringify([
    r.state,
    r.exitCode,
    r.signal,
    reason,
    r.stdout,
    r.stderr,
    r.stdoutBytes,
    r.stderrBytes,
    r.stdoutTruncated,
    r.stderrTruncated,
    // a put's hosts that wrote the file are not grouped with those that already had it
    r.file ? [r.file.sha256, r.file.size, r.file.changed] : null,
  ]);
}

const stateRank = (s: InvocationState) => SUMMARY_ORDER.indexOf(s);

function bucket<T>(items: T[], keyOf: (item: T) => string): T[][] {
  const byKey = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const list = byKey.get(key);
    if (list) list.push(item);
    else byKey.set(key, [item]);
  }
  return [...byKey.values()];
}

function toGroup(members: HostResult[], reason: string | null): HostGroup {
  const hosts = members.map((m) => m.host).sort(naturalCompare);
  const first = members[0];
  return {
    hosts,
    folded: foldHosts(hosts),
    count: hosts.length,
    state: first.state,
    exitCode: first.exitCode,
    signal: first.signal,
    stdout: first.stdout,
    stderr: first.stderr,
    stdoutBytes: first.stdoutBytes,
    stderrBytes: first.stderrBytes,
    stdoutTruncated: first.stdoutTruncated,
    stderrTruncated: first.stderrTruncated,
    reason,
  };
}

/**
 * Groups hosts whose (state, exit code, signal, reason, stdout, stderr) are identical; hosts left
 * alone whose reasons differ only where each names itself ("… host nope1 …") are grouped too.
 * Order: by state as the summary counts them (success first, so what went wrong ends next to the
 * summary), then the biggest group first, then by first host.
 */
export function groupResults(results: HostResult[]): HostGroup[] {
  const exact = bucket(results, (r) => groupKey(r, r.reason));
  const groups = exact.filter((g) => g.length > 1).map((g) => toGroup(g, g[0].reason));
  const alone = exact
    .filter((g) => g.length === 1)
    .map(([r]) => ({ r, template: r.reason?.replace(hostRegExp(r.host), HOST_MARK) ?? null }));
  for (const members of bucket(alone, ({ r, template }) => groupKey(r, template))) {
    const { r, template } = members[0];
    const reason = members.length === 1 ? r.reason : (template?.split(HOST_MARK).join('<host>') ?? null);
    groups.push(
      toGroup(
        members.map((m) => m.r),
        reason,
      ),
    );
  }
  return groups.sort(
    (a, b) => stateRank(a.state) - stateRank(b.state) || b.count - a.count || naturalCompare(a.hosts[0], b.hosts[0]),
  );
}

/**
 * A task for a person, one block per group: `==== web[01-40] (40) succeeded exit 0 ====`, the
 * output once, then the same summary as {@link renderTask}. Durations are per host, so a block
 * of several hosts leaves them out.
 */
export function renderCollapsedTask(given: TaskView, opts: RenderOptions): string {
  // grouped after the escape: outputs (kept as they are) still group byte for byte
  const task = forTerminal(given, OUTPUT_FIELDS);
  const paint = painter(opts.color);
  const lines: string[] = [];
  for (const g of groupResults(task.results)) {
    const one = task.results.find((r) => r.host === g.hosts[0])!;
    const detail = headerDetail(
      g.count === 1 ? one : { ...one, reason: g.reason, durationMs: null, startedAt: null },
      task,
      opts.now,
    );
    lines.push(
      `==== ${g.folded} (${g.count}) ${paint(g.state, g.state)} ${detail.join('  ')} ====`,
      ...outputBlock(g, opts.raw),
    );
  }
  if (lines.length > 0) lines.push('');
  lines.push(...summaryLines(task, paint, opts.now));
  return lines.join('\n') + '\n';
}

/** The `--collapse --json` document: the task's fields, `groups` in place of `results`. */
export function collapsedTaskJson(task: TaskView): CollapsedTaskJson {
  const { results, ...head } = task;
  return { ...head, groups: groupResults(results) };
}
