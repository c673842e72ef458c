import type { CompletedEventData, OutputEventData, StartedEventData } from '@warren/api/events.contract';
import { foldHosts, naturalCompare } from '@warren/api/hostlist.fold';
import type { HostResult, TaskView } from '@warren/api/tasks.contract';
import type { InvocationState, TaskState } from '@warren/protocol';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One stream of one host as the page shows it: the text received so far, joined in byte order. */
export interface StreamText {
  text: string;
  /** UTF-8 bytes of `text`: where the next live chunk must start */
  bytes: number;
}

/** One host of a task, as the grid and the output pane show it. */
export interface HostRow {
  host: string;
  state: InvocationState;
  exitCode: number | null;
  signal: string | null;
  durationMs: number | null;
  startedAt: string | null;
  reason: string | null;
  stdout: StreamText;
  stderr: StreamText;
  /** the stored result, once it came: authoritative over the live chunks */
  result: HostResult | null;
}

/** Hosts that ended alike: one state, exit code, signal and byte-identical output (dshbak -c). */
export interface OutputGroup {
  /** `web[01-40]` */
  folded: string;
  hosts: string[];
  state: InvocationState;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

const TERMINAL = new Set<InvocationState>([
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'undelivered',
  'unknown_host',
  'lost',
  'rejected',
  'error',
  'skipped',
]);

/** Whether an invocation state is final. */
export function isTerminal(state: InvocationState): boolean {
  return TERMINAL.has(state);
}

/**
 * Appends a live chunk at its byte `offset`: a chunk already held (a repeat after a resume) adds
 * nothing, one that overlaps adds only its new bytes, and one past a gap (a chunk the agent dropped)
 * waits for the result, which carries the whole output. Returns whether the text changed.
 */
export function appendChunk(s: StreamText, offset: number, data: string): boolean {
  const bytes = encoder.encode(data);
  const end = offset + bytes.length;
  if (end <= s.bytes || offset > s.bytes) return false;
  const fresh = offset === s.bytes ? data : decoder.decode(bytes.subarray(s.bytes - offset));
  s.text += fresh;
  s.bytes = end;
  return true;
}

function emptyRow(host: string): HostRow {
  return {
    host,
    state: 'pending',
    exitCode: null,
    signal: null,
    durationMs: null,
    startedAt: null,
    reason: null,
    stdout: { text: '', bytes: 0 },
    stderr: { text: '', bytes: 0 },
    result: null,
  };
}

/**
 * A task as the page holds it while its events arrive: one row per host, kept up to date by the
 * `started`, `output`, `result` and `completed` events. Plain data and logic, no DOM: the view
 * reads it at most once a frame.
 */
export class TaskModel {
  readonly rows = new Map<string, HostRow>();
  /** hosts in natural order (`web2` before `web10`), the grid's rows */
  order: string[] = [];
  state: TaskState;
  finishedAt: string | null;
  /** bumped on each change, so a view knows when to render */
  version = 0;

  constructor(readonly task: TaskView) {
    this.state = task.state;
    this.finishedAt = task.finishedAt;
    for (const r of task.results) this.rows.set(r.host, emptyRow(r.host));
    this.order = [...this.rows.keys()].sort(naturalCompare);
    for (const r of task.results) this.applyResult(r);
  }

  /** The row of `host`; a host the task did not list (never, but an event is data) gets one, in order. */
  private row(host: string): HostRow {
    let row = this.rows.get(host);
    if (!row) {
      row = emptyRow(host);
      this.rows.set(host, row);
      this.order = [...this.rows.keys()].sort(naturalCompare);
    }
    return row;
  }

  /** A host began: `running`, unless its result is in already. */
  applyStarted(d: StartedEventData): void {
    const row = this.row(d.host);
    if (row.result) return;
    row.state = 'running';
    row.startedAt = d.startedAt;
    this.version++;
  }

  /** A live chunk of output (ignored once the host's result is in: it holds it all). */
  applyOutput(d: OutputEventData): void {
    const row = this.row(d.host);
    if (row.result) return;
    if (row.state === 'pending') row.state = 'running';
    if (appendChunk(d.stream === 'stdout' ? row.stdout : row.stderr, d.offset, d.data)) this.version++;
  }

  /** A host's stored result: its state and whole output replace what the live chunks built. */
  applyResult(r: HostResult): void {
    const row = this.row(r.host);
    row.result = isTerminal(r.state) ? r : null;
    row.state = r.state;
    row.exitCode = r.exitCode;
    row.signal = r.signal;
    row.durationMs = r.durationMs;
    row.startedAt = r.startedAt;
    row.reason = r.reason;
    if (isTerminal(r.state) || r.stdout || r.stderr) {
      row.stdout = { text: r.stdout, bytes: encoder.encode(r.stdout).length };
      row.stderr = { text: r.stderr, bytes: encoder.encode(r.stderr).length };
    }
    this.version++;
  }

  /** The task reached its final state. */
  applyCompleted(d: CompletedEventData): void {
    this.state = d.state;
    this.finishedAt = d.finishedAt;
    this.version++;
  }

  /** Invocations by state, and the hosts in each state, naturally ordered. */
  byState(): Map<InvocationState, string[]> {
    const out = new Map<InvocationState, string[]>();
    for (const host of this.order) {
      const state = this.rows.get(host)!.state;
      const list = out.get(state);
      if (list) list.push(host);
      else out.set(state, [host]);
    }
    return out;
  }

  /**
   * Finished hosts grouped by identical outcome and output, largest group first: 40 hosts that
   * printed the same show once as `web[01-40]`.
   */
  groups(): OutputGroup[] {
    const byKey = new Map<string, OutputGroup>();
    for (const host of this.order) {
      const row = this.rows.get(host)!;
      const r = row.result;
      if (!r) continue;
      const key = JSON.stringify([r.state, r.exitCode, r.signal, r.stdout, r.stderr]);
      const g = byKey.get(key);
      if (g) g.hosts.push(host);
      else
        byKey.set(key, {
          folded: '',
          hosts: [host],
          state: r.state,
          exitCode: r.exitCode,
          signal: r.signal,
          stdout: r.stdout,
          stderr: r.stderr,
        });
    }
    const groups = [...byKey.values()];
    for (const g of groups) g.folded = g.hosts.length === 1 ? g.hosts[0] : foldHosts(g.hosts);
    return groups.sort((a, b) => b.hosts.length - a.hosts.length || naturalCompare(a.hosts[0], b.hosts[0]));
  }
}
