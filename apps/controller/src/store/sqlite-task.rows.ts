import {
  captureBytes,
  captureText,
  type InvocationState,
  type OutputCapture,
  type RejectCode,
  type ResultFile,
  type TaskState,
} from '@warren/protocol';
import type { InvocationRecord, StoredOutput, TaskRecord, TaskStdin, TaskTransfer } from './task-store.port';

/** A row of `tasks`, as SQLite returns it. */
export interface TaskRow {
  id: string;
  command: string;
  cwd: string | null;
  /** JSON of the env map */
  env: string;
  run_as: string | null;
  created_by: string | null;
  timeout_ms: number;
  delivery_timeout_ms: number;
  kill_grace_ms: number;
  state: TaskState;
  created_at: number;
  finished_at: number | null;
  host_count: number;
  cancel_requested_at: number | null;
  concurrency: number | null;
  max_errors: number | null;
  rerun_of: string | null;
  /** 0 or 1 */
  live: number;
  /** JSON of the {@link TaskTransfer}, or null */
  transfer: string | null;
  /** JSON of the {@link TaskStdin}, or null */
  stdin: string | null;
}

/** A row of `invocations`, as SQLite returns it. */
export interface InvocationRow {
  id: string;
  task_id: string;
  host: string;
  state: InvocationState;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_truncated: number;
  stderr_truncated: number;
  /** 1, 0, or null when unknown */
  stdout_utf8: number | null;
  stderr_utf8: number | null;
  reason: string | null;
  reject_code: RejectCode | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  sent_at: number | null;
  /** JSON of the result's `file`, or null */
  result_file: string | null;
}

/** The named parameters of the task insert. */
export function taskParams(task: TaskRecord): Record<string, unknown> {
  return {
    ...task,
    env: JSON.stringify(task.env),
    concurrency: task.concurrency ?? null,
    maxErrors: task.maxErrors ?? null,
    rerunOf: task.rerunOf ?? null,
    live: task.live === false ? 0 : 1,
    transfer: task.transfer ? JSON.stringify(task.transfer) : null,
    stdin: task.stdin ? JSON.stringify(task.stdin) : null,
  };
}

/** A `tasks` row as the port's record (env parsed, flags as booleans). */
export function toTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    command: r.command,
    cwd: r.cwd,
    env: JSON.parse(r.env) as Record<string, string>,
    runAs: r.run_as,
    createdBy: r.created_by,
    timeoutMs: r.timeout_ms,
    deliveryTimeoutMs: r.delivery_timeout_ms,
    killGraceMs: r.kill_grace_ms,
    state: r.state,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    hostCount: r.host_count,
    concurrency: r.concurrency,
    maxErrors: r.max_errors,
    rerunOf: r.rerun_of,
    live: r.live !== 0,
    transfer: r.transfer === null ? null : (JSON.parse(r.transfer) as TaskTransfer),
    stdin: r.stdin === null ? null : (JSON.parse(r.stdin) as TaskStdin),
  };
}

/** An `invocations` row as the port's record. */
export function toInvocation(r: InvocationRow): InvocationRecord {
  return {
    id: r.id,
    taskId: r.task_id,
    host: r.host,
    state: r.state,
    exitCode: r.exit_code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    stdoutBytes: r.stdout_bytes,
    stderrBytes: r.stderr_bytes,
    stdoutTruncated: r.stdout_truncated === 1,
    stderrTruncated: r.stderr_truncated === 1,
    stdoutUtf8: r.stdout_utf8 === null ? null : r.stdout_utf8 === 1,
    stderrUtf8: r.stderr_utf8 === null ? null : r.stderr_utf8 === 1,
    reason: r.reason,
    rejectCode: r.reject_code,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    sentAt: r.sent_at,
    file: r.result_file === null ? null : (JSON.parse(r.result_file) as ResultFile),
  };
}

/**
 * Every column of `invocations` but the raw output: what a read of results loads (the raw bytes,
 * up to the cap per stream, are read one stream at a time by {@link outputColumns}).
 */
export const INVOCATION_COLUMNS = `id, task_id, host, state, exit_code, signal, stdout, stderr, stdout_bytes, stderr_bytes,
  stdout_truncated, stderr_truncated, stdout_utf8, stderr_utf8, reason, reject_code, started_at, finished_at,
  duration_ms, sent_at, result_file`;

/**
 * The named parameters that store one capture as `stream`: its text (`stdout`), its exact bytes
 * (`stdoutRaw`) only when the text's UTF-8 is not exactly them, whether they are UTF-8 (`stdoutUtf8`:
 * 1, 0, or null for an agent before exact capture), the total and the truncation flag.
 */
export function captureParams(stream: 'stdout' | 'stderr', c: OutputCapture): Record<string, unknown> {
  const text = captureText(c);
  const bytes = captureBytes(c);
  const exact = c.encoding !== 'base64' || Buffer.from(text, 'utf8').equals(bytes);
  return {
    [stream]: text,
    [`${stream}Raw`]: exact ? null : bytes,
    [`${stream}Utf8`]: c.utf8 === undefined ? null : c.utf8 ? 1 : 0,
    [`${stream}Bytes`]: c.bytes,
    [`${stream}Truncated`]: c.truncated ? 1 : 0,
  };
}

/** The SELECT list of one stream's stored output, in the shape {@link toStoredOutput} reads. */
export function outputColumns(stream: 'stdout' | 'stderr'): string {
  return `state, ${stream} AS text, ${stream}_raw AS raw, ${stream}_utf8 AS utf8, ${stream}_bytes AS total, ${stream}_truncated AS truncated`;
}

/** A row read with {@link outputColumns}. */
export interface OutputRow {
  state: InvocationState;
  text: string;
  raw: Buffer | null;
  utf8: number | null;
  total: number;
  truncated: number;
}

/** The stored output of one stream: the raw bytes, else the UTF-8 of the text (exact whenever no raw bytes were needed). */
export function toStoredOutput(r: OutputRow): StoredOutput {
  return {
    state: r.state,
    bytes: r.raw ?? Buffer.from(r.text, 'utf8'),
    utf8: r.utf8 === null ? null : r.utf8 === 1,
    totalBytes: r.total,
    truncated: r.truncated === 1,
  };
}
