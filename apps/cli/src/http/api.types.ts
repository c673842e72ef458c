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
  /** rolling limits as counts; null: none */
  concurrency?: number | null;
  maxErrors?: number | null;
  /** the task this one re-runs hosts of */
  rerunOf?: string | null;
  /** false: sent with --no-live (no live output; lines come with each host's result) */
  live?: boolean;
  /** ISO time */
  createdAt: string;
  finishedAt: string | null;
  summary: TaskSummary;
}

/** The whole task, as `GET /v1/tasks/:id` answers it. */
export interface TaskView extends TaskHead {
  results: HostResult[];
}

/** `202` answer of `POST /v1/tasks` (and of `POST /v1/tasks/:id/rerun`). */
export interface TaskAccepted {
  id: string;
  hosts: string[];
  state: TaskState;
  /** rolling limits as counts; null: none */
  concurrency?: number | null;
  maxErrors?: number | null;
  /** for a re-run: the task it re-runs */
  rerunOf?: string;
  /** known hosts a glob, label or all matched but left out */
  excluded?: { host: string; reason: 'offline' | 'key not accepted' }[];
  /** globs that matched no online host */
  unmatched?: string[];
}

/** `200` answer of `POST /v1/tasks` with `dryRun: true`: nothing was stored or sent. */
export interface DryRunAnswer {
  dryRun: true;
  hosts: string[];
  count: number;
  /** `db1,web[01-40]` */
  folded: string;
  excluded: { host: string; reason: 'offline' | 'key not accepted' }[];
  unmatched: string[];
  concurrency: number | null;
  maxErrors: number | null;
}

/** Body of `POST /v1/tasks/:id/rerun`. */
export interface RerunRequest {
  /** states to pick hosts by; default every state but succeeded */
  only?: string[];
  concurrency?: number | string;
  maxErrors?: number | string;
  wait?: boolean;
}

/** Body of `POST /v1/tasks`; optional fields are sent only when the user gave them. */
export interface CreateTaskRequest {
  command: string;
  /** names, ranges, globs */
  hosts?: string[];
  /** `k=v` pairs, all of which must match */
  labels?: string[];
  all?: boolean;
  dryRun?: boolean;
  /** `5` or `"25%"` */
  concurrency?: number | string;
  maxErrors?: number | string;
  /** ms */
  timeoutMs?: number;
  deliveryTimeoutMs?: number;
  killGraceMs?: number;
  env?: Record<string, string>;
  cwd?: string;
  /** user the agents run it as */
  runAs?: string;
  /** false: no live output from the agents, only results */
  live?: boolean;
  wait?: boolean;
}

/** Filters of `GET /v1/audit`. */
export interface AuditQuery {
  limit?: number;
  taskId?: string;
  actor?: string;
  action?: string;
  decision?: 'allowed' | 'denied';
  /** ISO time or ms since epoch */
  since?: string;
}

/** One record of `GET /v1/audit`. */
export interface AuditRecord {
  id: number;
  /** ISO time */
  at: string;
  /** token name, `anonymous`, `local:<user>` or `agent:<host>` */
  actor: string;
  /** client IP, `broker` or `local` */
  source: string | null;
  action: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  taskId: string | null;
  hosts: string[];
  command: string | null;
  cwd: string | null;
  envNames: string[];
  runAs: string | null;
  invocationId: string | null;
  detail: Record<string, unknown> | null;
  /** for a created task: host → its invocation state now */
  outcome?: Record<string, string>;
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
  /** whether its key is accepted: `accepted`, `pending` (accept it), `changed` (announced another key), `unknown` */
  trust?: 'accepted' | 'pending' | 'changed' | 'unknown';
  /** fingerprint of its accepted key */
  keyId?: string | null;
  /** keys it announced that nobody accepted yet */
  pendingKeyIds?: string[];
}

/** `POST /v1/hosts/:host/accept`. */
export interface HostAccepted {
  host: string;
  keyId: string;
  /** the key it replaces, if any */
  replaced: string | null;
  trust: 'accepted';
}

/** `POST /v1/tasks/:id/cancel`. */
export interface TaskCancelled {
  id: string;
  /** hosts whose command had not started: cancelled, never to run */
  cancelled: string[];
  /** hosts whose running command is being killed */
  killing: string[];
  state: string;
}
