import { type HostResult, naturalCompare, type TaskHead, type TaskSummary, type TaskView } from '@warren/api';
import type { InvocationRecord, StateCounts, TaskRecord } from '../store/task-store.port';

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
  };
}

/** The task without results, as listed by `GET /v1/tasks`; env values are never shown. */
export function presentTaskHead(task: TaskRecord, counts: StateCounts): TaskHead {
  return {
    id: task.id,
    command: task.command,
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
