import type { InvocationState, TaskState } from '@warren/protocol';

/**
 * The controller's HTTP answers as the CLI reads them (docs/api.md). Declared here rather than
 * imported from the controller: the CLI depends on the HTTP contract, never on another app.
 */

/** Invocation counts of a task: `{ total, byState: { succeeded: 2, failed: 1 } }`. */
export interface TaskSummary {
  total: number;
  byState: Partial<Record<InvocationState, number>>;
}

/** One host's result in `GET /v1/tasks/:id`. */
export interface HostResult {
  host: string;
  invocationId: string;
  state: InvocationState;
  /** null when killed by a signal or never started */
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** bytes the command wrote in all; more than `stdout` holds when truncated */
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** why it was rejected, errored, timed out, …; null otherwise */
  reason: string | null;
  /** ISO time; null until started */
  startedAt: string | null;
  finishedAt: string | null;
  /** ms; null when it never started */
  durationMs: number | null;
}

/** A task without results, as listed by `GET /v1/tasks`. */
export interface TaskHead {
  id: string;
  command: string;
  cwd?: string | null;
  envNames?: string[];
  state: TaskState;
  /** ms */
  timeoutMs?: number;
  deliveryTimeoutMs?: number;
  killGraceMs?: number;
  /** ISO time */
  createdAt: string;
  finishedAt: string | null;
  summary: TaskSummary;
}

/** The whole task, as `GET /v1/tasks/:id` answers it. */
export interface TaskView extends TaskHead {
  results: HostResult[];
}

/** `202` answer of `POST /v1/tasks`. */
export interface TaskAccepted {
  id: string;
  hosts: string[];
  state: TaskState;
}

/** Body of `POST /v1/tasks`; optional fields are sent only when the user gave them. */
export interface CreateTaskRequest {
  command: string;
  hosts: string[];
  /** ms */
  timeoutMs?: number;
  deliveryTimeoutMs?: number;
  killGraceMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  wait?: boolean;
}

/** One agent in `GET /v1/hosts`. */
export interface HostView {
  host: string;
  status: 'online' | 'offline';
  labels: Record<string, string>;
  version: string;
  running: number;
  concurrency: number;
  /** ISO time of the last heartbeat */
  lastSeen: string;
}
