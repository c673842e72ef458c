import { StringDecoder } from 'node:string_decoder';
import {
  captureBytes,
  captureText,
  type InvocationState,
  type OutputCapture,
  type RejectCode,
  type ResultFile,
  type TaskState,
} from '@warren/protocol';
import type { InvocationRecord, StoredOutput, TaskRecord, TaskStdin, TaskTransfer } from '../task-store.port';

/** A row of `tasks`, as `pg` returns it (BIGINT as number: see `openPostgres`). */
export interface PgTaskRow {
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
  live: boolean;
  /** JSON of the {@link TaskTransfer}, or null */
  transfer: string | null;
  /** JSON of the {@link TaskStdin}, or null */
  stdin: string | null;
}

/** A row of `invocations` read with {@link PG_INVOCATION_COLUMNS}. */
export interface PgInvocationRow {
  id: string;
  task_id: string;
  host: string;
  state: InvocationState;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdout_raw: Buffer | null;
  stderr_raw: Buffer | null;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  stdout_utf8: boolean | null;
  stderr_utf8: boolean | null;
  reason: string | null;
  reject_code: RejectCode | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  sent_at: number | null;
  /** JSON of the result's `file`, or null */
  result_file: string | null;
}

/** The values of the task insert, in the order of {@link TASK_INSERT_COLUMNS}. */
export function taskValues(task: TaskRecord): unknown[] {
  return [
    task.id,
    task.command,
    task.cwd,
    JSON.stringify(task.env),
    task.runAs,
    task.timeoutMs,
    task.deliveryTimeoutMs,
    task.killGraceMs,
    task.state,
    task.createdAt,
    task.finishedAt,
    task.hostCount,
    task.createdBy,
    task.concurrency ?? null,
    task.maxErrors ?? null,
    task.rerunOf ?? null,
    task.live !== false,
    task.transfer ? JSON.stringify(task.transfer) : null,
    task.stdin ? JSON.stringify(task.stdin) : null,
  ];
}

/** The columns {@link taskValues} fills, in its order. */
export const TASK_INSERT_COLUMNS = `id, command, cwd, env, run_as, timeout_ms, delivery_timeout_ms, kill_grace_ms, state,
  created_at, finished_at, host_count, created_by, concurrency, max_errors, rerun_of, live, transfer, stdin`;

/** A `tasks` row as the port's record. */
export function toTask(r: PgTaskRow): TaskRecord {
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
    live: r.live,
    transfer: r.transfer === null ? null : (JSON.parse(r.transfer) as TaskTransfer),
    stdin: r.stdin === null ? null : (JSON.parse(r.stdin) as TaskStdin),
  };
}

/**
 * Every column of `invocations` a read of results needs, raw output included: a row that holds raw
 * bytes holds no text (see {@link storedCapture}), its text is decoded from them.
 */
export const PG_INVOCATION_COLUMNS = `id, task_id, host, state, exit_code, signal, stdout, stderr, stdout_raw, stderr_raw,
  stdout_bytes, stderr_bytes, stdout_truncated, stderr_truncated, stdout_utf8, stderr_utf8, reason, reject_code,
  started_at, finished_at, duration_ms, sent_at, result_file`;

/** An `invocations` row as the port's record. */
export function toInvocation(r: PgInvocationRow): InvocationRecord {
  return {
    id: r.id,
    taskId: r.task_id,
    host: r.host,
    state: r.state,
    exitCode: r.exit_code,
    signal: r.signal,
    stdout: textOf(r.stdout, r.stdout_raw, r.stdout_truncated),
    stderr: textOf(r.stderr, r.stderr_raw, r.stderr_truncated),
    stdoutBytes: r.stdout_bytes,
    stderrBytes: r.stderr_bytes,
    stdoutTruncated: r.stdout_truncated,
    stderrTruncated: r.stderr_truncated,
    stdoutUtf8: r.stdout_utf8,
    stderrUtf8: r.stderr_utf8,
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
 * One stream of a result as stored in PostgreSQL: `text` for the TEXT column, `raw` for the BYTEA
 * one. PostgreSQL's text types cannot hold the character U+0000
 * (https://www.postgresql.org/docs/current/datatype-character.html), which any command may print:
 * so whenever the text would not give back the kept bytes exactly, or holds U+0000, the bytes go to
 * `raw` and the text column stays '' (the text is decoded from them on read, as `captureText` does).
 * `db copy` stores SQLite's output columns through this too.
 */
export function storedCapture(text: string, bytes: Buffer): { text: string; raw: Buffer | null } {
  if (!text.includes('\u0000') && Buffer.from(text, 'utf8').equals(bytes)) return { text, raw: null };
  return { text: '', raw: bytes };
}

/**
 * `s` as PostgreSQL's TEXT can hold it: U+0000 replaced by U+FFFD (SQLite would keep it). For the
 * short texts an agent sends besides its output (reason, signal): one such character must not make
 * the whole batch of results fail again at every redelivery.
 */
export function pgText<T extends string | null | undefined>(s: T): T {
  return (typeof s === 'string' ? s.replaceAll('\u0000', '\uFFFD') : s) as T;
}

/** The values that store one capture: text and raw (see {@link storedCapture}), UTF-8 flag, total, truncation. */
export function captureValues(c: OutputCapture): {
  text: string;
  raw: Buffer | null;
  utf8: boolean | null;
  bytes: number;
  truncated: boolean;
} {
  return {
    ...storedCapture(captureText(c), captureBytes(c)),
    utf8: c.utf8 === undefined ? null : c.utf8,
    bytes: c.bytes,
    truncated: c.truncated,
  };
}

/**
 * The text of a stream stored with {@link storedCapture}: the column, or the raw bytes decoded as
 * UTF-8 with invalid sequences replaced and, when truncated, a character the cap cut left out.
 */
function textOf(text: string, raw: Buffer | null, truncated: boolean): string {
  if (raw === null) return text;
  const decoder = new StringDecoder('utf8');
  const head = decoder.write(raw);
  return truncated ? head : head + decoder.end();
}

/** The SELECT list of one stream's stored output, in the shape {@link toStoredOutput} reads. */
export function outputColumns(stream: 'stdout' | 'stderr'): string {
  return `state, ${stream} AS text, ${stream}_raw AS raw, ${stream}_utf8 AS utf8, ${stream}_bytes AS total, ${stream}_truncated AS truncated`;
}

/** A row read with {@link outputColumns}. */
export interface PgOutputRow {
  state: InvocationState;
  text: string;
  raw: Buffer | null;
  utf8: boolean | null;
  total: number;
  truncated: boolean;
}

/** The stored output of one stream: the raw bytes, else the UTF-8 of the text. */
export function toStoredOutput(r: PgOutputRow): StoredOutput {
  return {
    state: r.state,
    bytes: r.raw ?? Buffer.from(r.text, 'utf8'),
    utf8: r.utf8,
    totalBytes: r.total,
    truncated: r.truncated,
  };
}
