import {
  type HostResult,
  naturalCompare,
  type TaskHead,
  type TaskSummary,
  type TaskTransferView,
  type TaskView,
} from '@warren/api';
import type { InvocationRecord, StateCounts, TaskRecord, TaskTransfer } from '../store/task-store.port';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** `{ total, byState }` of a task's invocations. */
export function presentSummary(task: TaskRecord, counts: StateCounts): TaskSummary {
  return { total: task.hostCount, byState: counts };
}

/** The API shape of one host's result (also the data of a `result` event). */
export function presentInvocation(r: InvocationRecord): HostResult {
  return {
    host: r.host,
    invocationId: r.id,
    state: r.state,
    exitCode: r.exitCode,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    stdoutBytes: r.stdoutBytes,
    stderrBytes: r.stderrBytes,
    stdoutTruncated: r.stdoutTruncated,
    stderrTruncated: r.stderrTruncated,
    stdoutUtf8: r.stdoutUtf8,
    stderrUtf8: r.stderrUtf8,
    reason: r.reason,
    rejectCode: r.rejectCode,
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    durationMs: r.durationMs,
    file: r.file ? { sha256: r.file.sha256, size: r.file.size, changed: r.file.changed } : null,
  };
}

/** Permission bits as the API writes them: 4 octal digits (`0644`); null stays null. */
export function octalMode(mode: number | null): string | null {
  return mode === null ? null : mode.toString(8).padStart(4, '0');
}

/** A stored transfer as the API shows it (the mode in octal). */
export function presentTransfer(t: TaskTransfer): TaskTransferView {
  if (t.op === 'get') return { op: 'get', path: t.path, maxBytes: t.maxBytes };
  const { file, name, size, dest, mode, owner, group, mkdir } = t;
  return { op: 'put', file, name, size, dest, mode: octalMode(mode), owner, group, mkdir };
}

/** The task without results, as listed by `GET /v1/tasks`; env values are never shown. */
export function presentTaskHead(task: TaskRecord, counts: StateCounts): TaskHead {
  return {
    id: task.id,
    command: task.command,
    transfer: task.transfer ? presentTransfer(task.transfer) : null,
    stdin: task.stdin ? { file: task.stdin.file, size: task.stdin.size } : null,
    cwd: task.cwd,
    envNames: Object.keys(task.env),
    runAs: task.runAs,
    createdBy: task.createdBy,
    state: task.state,
    timeoutMs: task.timeoutMs,
    deliveryTimeoutMs: task.deliveryTimeoutMs,
    killGraceMs: task.killGraceMs,
    concurrency: task.concurrency ?? null,
    maxErrors: task.maxErrors ?? null,
    rerunOf: task.rerunOf ?? null,
    live: task.live !== false,
    createdAt: new Date(task.createdAt).toISOString(),
    finishedAt: iso(task.finishedAt),
    summary: presentSummary(task, counts),
  };
}

/** The whole task, as `GET /v1/tasks/:id` answers it: results by host in natural order (`web1, web2, web10`). */
export function presentTask(task: TaskRecord, invocations: InvocationRecord[]): TaskView {
  const counts: StateCounts = {};
  for (const r of invocations) counts[r.state] = (counts[r.state] ?? 0) + 1;
  const results = invocations.map(presentInvocation).sort((a, b) => naturalCompare(a.host, b.host));
  return { ...presentTaskHead(task, counts), results };
}
