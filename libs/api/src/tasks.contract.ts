import type { InvocationState, RejectCode, TaskState } from '@warren/protocol';
import type { GetRequest, HostFile, PutRequest, TaskStdinView, TaskTransferView } from './files.contract';
import type { LimitSpec } from './limit.rule';

/** Why a host a glob, a label selector or `all` matched is left out of a task. */
export type ExclusionReason = 'offline' | 'key not accepted';

/** A known host left out of a task's target, and why. */
export interface ExcludedHost {
  host: string;
  reason: ExclusionReason;
}

/**
 * Body of `POST /v1/tasks`. One of `hosts`, `labels` or `all` is required, and exactly one of
 * `command`, `put` or `get` (else 400); optional fields left out take the controller's defaults.
 * Unknown fields are refused (400).
 */
export interface CreateTaskRequest {
  /** run on each host as `/bin/sh -c <command>` */
  command?: string;
  /** write an uploaded file on each host instead of running a command (`warren cp`); role operator */
  put?: PutRequest;
  /** read a file from each host instead of running a command (`warren fetch`); role operator */
  get?: GetRequest;
  /** SHA-256 of an uploaded file fed to `command`'s standard input on every host (`--stdin`); only with `command` */
  stdin?: string;
  /**
   * host names, ranges (`web[01-20]`) and globs (`web*`, matched among online hosts): at most 10000
   * entries of at most 255 characters, at most 100 globs, a glob of at most 8 brackets whose bounds
   * have at most 12 digits (else 400); names and ranges standing for more than 10000 hosts in all,
   * repeats counted, or globs costing more than 100,000,000 matching steps against the known hosts
   * (docs/security-api.md), are a 422
   */
  hosts?: string[];
  /** `{"zone": "eu"}` or `["zone=eu"]`: every pair must hold on a host (AND) */
  labels?: Record<string, string> | string[];
  /** every online host with an accepted key (narrowed by `labels`); not with `hosts` */
  all?: boolean;
  /** resolve the target and answer 200 {@link DryRunAnswer}; nothing is stored or sent */
  dryRun?: boolean;
  /** rolling run: at most this many hosts (`5`, `"5"`) or this share of them (`"25%"`) at once */
  concurrency?: LimitSpec;
  /** rolling run: once more than this many (`1`, `"10%"`) did not succeed, the rest are skipped; needs `concurrency` */
  maxErrors?: LimitSpec;
  /** ms; execution timeout, enforced by the agent; default 60 000 */
  timeoutMs?: number;
  /** ms; how long a command may wait for its agent; default 60 000 */
  deliveryTimeoutMs?: number;
  /** ms; SIGTERM → SIGKILL grace; 0 kills at once; default 5 000 */
  killGraceMs?: number;
  /** variables set for the command: names `[A-Za-z_][A-Za-z0-9_]*`, string values */
  env?: Record<string, string>;
  /** working directory on each host */
  cwd?: string;
  /** user the agents run the command as (their policy decides which are allowed) */
  runAs?: string;
  /** false: no live output (no `output` events), only each host's result; default true */
  live?: boolean;
  /** hold the request until the task completes: 200 and the {@link TaskView} */
  wait?: boolean;
}

/** Body of `POST /v1/tasks/:id/rerun`: the same command, as a new task, on the hosts of `:id` in some states. */
export interface RerunRequest {
  /** finished states to pick hosts by; default every finished state but `succeeded` */
  only?: InvocationState[];
  /** as in {@link CreateTaskRequest}; default the original task's */
  concurrency?: LimitSpec;
  maxErrors?: LimitSpec;
  /** hold the request until the new task completes */
  wait?: boolean;
}

/** Body of `POST /v1/tasks/:id/cancel`. */
export interface CancelTaskRequest {
  /** cancel on these hosts only; default every host of the task */
  hosts?: string[];
}

/** `202` answer of `POST /v1/tasks` and of `POST /v1/tasks/:id/rerun`: the broker has the commands. */
export interface TaskAccepted {
  id: string;
  /** the task's hosts, in order */
  hosts: string[];
  state: TaskState;
  /** rolling limits as counts; null: none */
  concurrency: number | null;
  maxErrors: number | null;
  /** for a re-run: the task it re-runs */
  rerunOf?: string;
  /** known hosts a glob, label or `all` matched but left out */
  excluded?: ExcludedHost[];
  /** globs that matched no usable host */
  unmatched?: string[];
}

/** `200` answer of `POST /v1/tasks` with `dryRun: true`: what the target resolves to; nothing stored or sent. */
export interface DryRunAnswer {
  dryRun: true;
  hosts: string[];
  /** `hosts.length` */
  count: number;
  /** the hosts in short form: `db1,web[01-40]` */
  folded: string;
  excluded: ExcludedHost[];
  unmatched: string[];
  /** rolling limits as counts; null: none */
  concurrency: number | null;
  maxErrors: number | null;
}

/** Invocation counts of a task: `{ total: 3, byState: { succeeded: 2, failed: 1 } }`. */
export interface TaskSummary {
  /** hosts of the task */
  total: number;
  byState: Partial<Record<InvocationState, number>>;
}

/**
 * One host's result: in {@link TaskView} `results`, and the data of a `result` event. A type alias
 * rather than an interface so that it stays a plain JSON record (`Record<string, unknown>`), as the
 * controller's event log holds event data.
 */
export type HostResult = {
  host: string;
  invocationId: string;
  state: InvocationState;
  /** null when killed by a signal or never started */
  exitCode: number | null;
  /** e.g. `SIGKILL`; null unless killed by a signal */
  signal: string | null;
  /**
   * the kept output as text (at most the agent's cap): invalid UTF-8 shows as U+FFFD, and a
   * character the cap cut is left out; the exact bytes are at `GET /v1/tasks/:id/results/:host/stdout`
   */
  stdout: string;
  stderr: string;
  /** bytes the command wrote in all; more than `stdout` holds when truncated */
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /**
   * whether the kept bytes of stdout are UTF-8 (when truncated, a character the cap cut at the end
   * does not count against it): when true, `stdout` is those bytes exactly (less such a cut
   * character); false: `stdout` shows replacement characters for bytes that are not; null:
   * unknown (the host's agent predates exact output capture)
   */
  stdoutUtf8: boolean | null;
  stderrUtf8: boolean | null;
  /** why it was rejected, errored, timed out, …; null otherwise */
  reason: string | null;
  /** the agent's machine-readable reason for a rejection; null otherwise */
  rejectCode: RejectCode | null;
  /** ISO time; null until started */
  startedAt: string | null;
  /** ISO time; null until finished */
  finishedAt: string | null;
  /** ms; null when it never started */
  durationMs: number | null;
  /** the file of a put, get or stdin invocation that succeeded; null otherwise */
  file: HostFile | null;
};

/** A task without results, as `GET /v1/tasks` lists it; env values are never shown. */
export interface TaskHead {
  id: string;
  /** the shell command; for a put or get, a description of it (`put /etc/motd`, `get /var/log/syslog`) */
  command: string;
  /** the file transfer this task is instead of a command; null for a command */
  transfer: TaskTransferView | null;
  /** the file fed to the command's stdin; null if none */
  stdin: TaskStdinView | null;
  cwd: string | null;
  /** names of the env variables set; never their values */
  envNames: string[];
  runAs: string | null;
  /** the token (or local user) that created it */
  createdBy: string | null;
  state: TaskState;
  /** ms */
  timeoutMs: number;
  /** ms */
  deliveryTimeoutMs: number;
  /** ms */
  killGraceMs: number;
  /** rolling limits as counts; null: none */
  concurrency: number | null;
  maxErrors: number | null;
  /** the task this one re-runs hosts of; null for a new task */
  rerunOf: string | null;
  /** false: sent with `live: false` (no live output; lines come with each host's result) */
  live: boolean;
  /** ISO time */
  createdAt: string;
  /** ISO time; null while running */
  finishedAt: string | null;
  summary: TaskSummary;
}

/** The whole task, as `GET /v1/tasks/:id` (and a waited create or re-run) answers it. */
export interface TaskView extends TaskHead {
  results: HostResult[];
}

/**
 * Query string of `GET /v1/tasks`: each parameter at most once, unknown ones refused (400); the
 * filters combine (AND).
 */
export interface TaskListQueryParams {
  /** tasks per answer, 1–1000 (outside: the nearest bound); default 20 */
  limit?: number;
  state?: TaskState;
  /** text the command contains, ignoring ASCII case; at most 200 characters */
  q?: string;
  /** the token name (or `local:<user>`) that created the task, exactly */
  createdBy?: string;
  /** created at or after: an ISO time or ms since the epoch */
  since?: string;
  /** created before: an ISO time or ms since the epoch */
  until?: string;
  /** a task id: the tasks after it, newest first (the next page: the last id of this one); an unknown id lists none */
  before?: string;
}

/** `GET /v1/tasks` ({@link TaskListQueryParams}): newest first. */
export interface TaskList {
  tasks: TaskHead[];
}

/** The output streams a host's exact bytes are served for. */
export type OutputStream = 'stdout' | 'stderr';

/**
 * `GET /v1/tasks/:id/results/:host/stdout?encoding=base64` (and `stderr`): one stream's kept bytes
 * as base64 in JSON. Without `encoding` the route answers the bytes themselves
 * (`application/octet-stream`) with the same facts in `Warren-*` headers.
 */
export interface OutputBytes {
  host: string;
  stream: OutputStream;
  /** the invocation's state; output is stored with its result, so empty while `pending` or `running` */
  state: InvocationState;
  encoding: 'base64';
  /** base64 (RFC 4648 §4) of the kept bytes, exactly */
  data: string;
  /** whether they are UTF-8, as in {@link HostResult} `stdoutUtf8`; null: unknown */
  utf8: boolean | null;
  /** bytes the command wrote to the stream in all */
  totalBytes: number;
  /** true when `totalBytes` exceeds the kept bytes */
  truncated: boolean;
}

/** `200` answer of `POST /v1/tasks/:id/cancel`. */
export interface TaskCancelled {
  id: string;
  /** hosts whose command had not started: cancelled, never to run */
  cancelled: string[];
  /** hosts whose running command is being killed; they report `cancelled` when it is gone */
  killing: string[];
  /** the task's state after the cancel */
  state: TaskState;
}
