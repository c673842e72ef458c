import type { InvocationState, RejectCode, TaskState } from '@warren/protocol';
import type { InvocationRecord, TaskRecord } from './task-store.port';

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
  reason: string | null;
  reject_code: RejectCode | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  sent_at: number | null;
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
    reason: r.reason,
    rejectCode: r.reject_code,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    sentAt: r.sent_at,
  };
}
