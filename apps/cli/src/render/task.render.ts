import { foldHosts, formatColumns, naturalCompare } from '@warren/api';
import { INVOCATION_STATES, type InvocationState } from '@warren/protocol';
import type { HostResult, TaskView } from '@warren/api';
import { type Paint, painter } from './colors';
import { escapeControls, forTerminal } from './terminal.safe';
import { formatBytes, formatElapsed, formatSetting } from './units.format';

/** How to render: colors on or off, and the time "now" for durations of what is still running. */
export interface RenderOptions {
  color: boolean;
  /** ms since epoch */
  now: number;
  /** `--raw`: the hosts' output as it came, control characters and all; otherwise escaped ({@link escapeControls}) */
  raw?: boolean;
}

/** Fields a renderer prints line by line, escaping each line itself (or not, with `--raw`): {@link forTerminal} leaves them. */
export const OUTPUT_FIELDS = ['stdout', 'stderr'] as const;

/** Indents a host's stdout. */
export const STDOUT_PREFIX = '    ';
/** Indents and marks a host's stderr, so it reads apart from stdout without colors. */
export const STDERR_PREFIX = '    ! ';

/** What to say for a state that has no exit code when the controller gave no reason. */
const FALLBACK_REASON: Partial<Record<InvocationState, string>> = {
  cancelled: 'cancelled',
  undelivered: 'no agent took it within the delivery timeout',
  unknown_host: 'no agent queue for this host',
  lost: 'the agent started it but never reported a result',
  rejected: 'refused by the agent',
  error: 'could not be started',
  skipped: 'never sent',
};

/** States in the order a summary lists them: success first, then the life-cycle order. */
export const SUMMARY_ORDER: InvocationState[] = ['succeeded', ...INVOCATION_STATES.filter((s) => s !== 'succeeded')];

/**
 * Renders a task for a person: per host a header line (`web1  succeeded  exit 0  12 ms`, columns
 * aligned across hosts), its stdout indented, its stderr marked with `!`, a note when either was
 * truncated; then a summary with counts by state and, for each state other than `succeeded`, the
 * hosts in it by name. Ends with a newline.
 */
export function renderTask(given: TaskView, opts: RenderOptions): string {
  const task = inHostOrder(forTerminal(given, OUTPUT_FIELDS));
  const paint = painter(opts.color);
  const headers = formatColumns(
    task.results.map((r) => [r.host, r.state, ...headerDetail(r, task, opts.now)]),
    (cell, row, col) => (col === 1 ? paint(cell, task.results[row].state) : cell),
  );
  const lines: string[] = [];
  task.results.forEach((r, i) => lines.push(headers[i], ...outputBlock(r, opts.raw)));
  if (lines.length > 0) lines.push('');
  lines.push(...summaryLines(task, paint, opts.now));
  return lines.join('\n') + '\n';
}

/**
 * `task` with its results by host in natural order (`web1, web2, web10`), as the controller sends
 * them since it sorts them, and as folded host lists read; kept here for a controller that did not.
 */
export function inHostOrder(task: TaskView): TaskView {
  return { ...task, results: [...task.results].sort((a, b) => naturalCompare(a.host, b.host)) };
}

/** The streams a command wrote, as printed under its header: stdout indented, stderr marked, truncation noted. */
export type Streams = Pick<
  HostResult,
  'stdout' | 'stderr' | 'stdoutBytes' | 'stderrBytes' | 'stdoutTruncated' | 'stderrTruncated'
>;

/** A host's (or a group's) output lines under its header, each escaped ({@link escapeControls}) unless `raw`. */
export function outputBlock(r: Streams, raw = false): string[] {
  const lines = outputLines(r.stdout, STDOUT_PREFIX, raw);
  if (r.stdoutTruncated) lines.push(truncationNote('stdout', r.stdout, r.stdoutBytes));
  lines.push(...outputLines(r.stderr, STDERR_PREFIX, raw));
  if (r.stderrTruncated) lines.push(truncationNote('stderr', r.stderr, r.stderrBytes));
  return lines;
}

/** The closing lines: counts by state, then the hosts of each state other than `succeeded`, folded. */
export function summaryLines(task: TaskView, paint: Paint, now: number): string[] {
  return [summaryLine(task, paint, now), ...unsuccessfulHostLines(task.results, paint)];
}

/** The cells after host and state in a host's header line. */
export function headerDetail(r: HostResult, task: TaskView, now: number): string[] {
  switch (r.state) {
    case 'pending':
      return ['waiting for its agent to take it'];
    case 'running':
      return [r.startedAt ? `running for ${formatElapsed(now - Date.parse(r.startedAt))}` : 'running'];
    case 'timed_out': {
      // Timed out means the agent's signal ended it: say which, when the result names it.
      const killed = task.timeoutMs
        ? `killed after ${formatSetting(task.timeoutMs)} timeout`
        : (r.reason ?? 'killed at its timeout');
      return r.signal ? [`signal ${r.signal}`, killed] : [killed];
    }
  }
  if (r.state === 'succeeded' && r.file && task.transfer) return fileDetail(r, r.file, task.transfer.op);
  const exit = r.exitCode !== null ? `exit ${r.exitCode}` : r.signal ? `signal ${r.signal}` : null;
  if (exit === null) return [r.reason ?? FALLBACK_REASON[r.state] ?? r.state];
  const cells = [exit];
  if (r.durationMs !== null) cells.push(formatElapsed(r.durationMs));
  if (r.reason) cells.push(r.reason);
  return cells;
}

/**
 * A put or get that succeeded: `changed` (written) or `unchanged` (the host already had these
 * bytes; nothing was sent) for a put, then size, time and the SHA-256 the agent computed.
 */
function fileDetail(r: HostResult, file: NonNullable<HostResult['file']>, op: 'put' | 'get'): string[] {
  const cells = op === 'put' ? [file.changed ? 'changed' : 'unchanged'] : [];
  cells.push(formatBytes(file.size));
  if (r.durationMs !== null) cells.push(formatElapsed(r.durationMs));
  cells.push(`sha256 ${file.sha256}`);
  return cells;
}

/** One line per line of `text` (a final newline does not make an empty last line). */
function outputLines(text: string, prefix: string, raw: boolean): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => (prefix + (raw ? line : escapeControls(line))).trimEnd());
}

function truncationNote(stream: 'stdout' | 'stderr', kept: string, total: number): string {
  return `${STDOUT_PREFIX}[${stream} truncated: ${formatBytes(Buffer.byteLength(kept))} of ${formatBytes(total)} shown]`;
}

/** `3 hosts: 2 succeeded, 1 failed  (task t_abc, 1.2 s)` */
function summaryLine(task: TaskView, paint: Paint, now: number): string {
  const counts = new Map<InvocationState, number>();
  for (const r of task.results) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const parts = SUMMARY_ORDER.filter((s) => counts.has(s)).map((s) => paint(`${counts.get(s)} ${s}`, s));
  const total = Math.max(task.summary?.total ?? 0, task.results.length);
  const created = Date.parse(task.createdAt);
  const when = task.finishedAt
    ? formatElapsed(Date.parse(task.finishedAt) - created)
    : `running for ${formatElapsed(now - created)}`;
  return `${total} ${total === 1 ? 'host' : 'hosts'}: ${parts.join(', ') || 'no results yet'}  (task ${task.id}, ${when})`;
}

/** `failed (3): web[03,07],db1` — one line per state other than `succeeded`, its hosts folded so that 500 of them fit a line. */
function unsuccessfulHostLines(results: HostResult[], paint: Paint): string[] {
  return SUMMARY_ORDER.filter((s) => s !== 'succeeded')
    .map((s) => [s, results.filter((r) => r.state === s).map((r) => r.host)] as const)
    .filter(([, hosts]) => hosts.length > 0)
    .map(([s, hosts]) => `${paint(s, s)} (${hosts.length}): ${foldHosts(hosts)}`);
}

/** True when every host succeeded: the task's exit status is then 0. */
export function allSucceeded(task: TaskView): boolean {
  return task.results.length > 0 && task.results.every((r) => r.state === 'succeeded');
}
