import type { InvocationOutcome, InvocationState, RejectCode, ResultFile, TaskState } from '@warren/protocol';
import type { TaskListFilter } from './task-list.filter';

/**
 * A task's file transfer as stored (issue 16, docs/files.md): a put of an uploaded file (its name and
 * size copied from the upload, for display) or a get of a path. `mode` is permission bits (0 to
 * 0o7777) or null for the default; `maxBytes` is bytes.
 */
export type TaskTransfer =
  | {
      op: 'put';
      /** SHA-256 of the uploaded file (`files.sha256`) */
      file: string;
      name: string | null;
      /** bytes */
      size: number;
      dest: string;
      mode: number | null;
      owner: string | null;
      group: string | null;
      mkdir: boolean;
    }
  | { op: 'get'; path: string; maxBytes: number };

/** The uploaded file a task's command reads on its standard input. */
export interface TaskStdin {
  /** SHA-256 of the uploaded file */
  file: string;
  /** bytes */
  size: number;
}

/** A task as stored. Times are ms since epoch. */
export interface TaskRecord {
  id: string;
  command: string;
  cwd: string | null;
  /** names only are ever shown; values are kept to re-send */
  env: Record<string, string>;
  /** user the agents run it as; null = each agent's policy default */
  runAs: string | null;
  /** who created it (the API token's name), for the audit log */
  createdBy: string | null;
  timeoutMs: number;
  deliveryTimeoutMs: number;
  killGraceMs: number;
  state: TaskState;
  createdAt: number;
  finishedAt: number | null;
  hostCount: number;
  /** rolling run: most invocations sent and not yet finished at once; null/absent = all at once */
  concurrency?: number | null;
  /** rolling run: once more than this many sent invocations did not succeed, the unsent ones are `skipped`; null/absent = no budget */
  maxErrors?: number | null;
  /** the task this one re-runs a subset of (`POST /v1/tasks/:id/rerun`) */
  rerunOf?: string | null;
  /** false: agents send no live output, only results (absent = stream) */
  live?: boolean;
  /** a file transfer instead of a command (`command` then only describes it); null/absent: none */
  transfer?: TaskTransfer | null;
  /** an uploaded file fed to the command's stdin; null/absent: none */
  stdin?: TaskStdin | null;
}

/** One (task, host) row. */
export interface InvocationRecord {
  id: string;
  taskId: string;
  host: string;
  state: InvocationState;
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdoutBytes: number;
  stderrBytes: number;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  /** whether the kept bytes of stdout are UTF-8 (see `OutputCapture.utf8`); null: unknown (an agent before exact capture) */
  stdoutUtf8: boolean | null;
  stderrUtf8: boolean | null;
  reason: string | null;
  /** why the agent rejected it, as a code; null unless `rejected` by an agent */
  rejectCode: RejectCode | null;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  /** when the controller published it; null while a rolling run has not reached it (or it was never sent) */
  sentAt: number | null;
  /** the file its agent reported with its result (put, get, stdin); null/absent: none */
  file?: ResultFile | null;
}

/** One stream of one invocation as stored, for `GET /v1/tasks/:id/results/:host/stdout`. */
export interface StoredOutput {
  /** the invocation's state (output is stored with its result: empty until then) */
  state: InvocationState;
  /**
   * the kept bytes, exactly (at most the agent's cap); for output from an agent before exact
   * capture (`utf8` null), the UTF-8 of its text, whose invalid sequences that agent replaced
   */
  bytes: Buffer;
  /** whether `bytes` are UTF-8 (see `OutputCapture.utf8`); null: unknown */
  utf8: boolean | null;
  /** bytes the command wrote to the stream in all */
  totalBytes: number;
  /** true when `totalBytes` exceeds what `bytes` holds */
  truncated: boolean;
}

/** One invocation's id and state, read without its output. */
export interface InvocationStateRow {
  id: string;
  state: InvocationState;
}

/** Counts of a task's invocations by state. */
export type StateCounts = Partial<Record<InvocationState, number>>;

/** What `GET /v1/tasks` lists. */
export interface TaskListItem {
  task: TaskRecord;
  counts: StateCounts;
}

/** A change to one invocation; the store applies only changes its current state allows. */
export type InvocationUpdate =
  | {
      kind: 'started';
      invocationId: string;
      /** the host whose accepted key signed it: an update about another host's invocation changes nothing */
      host: string;
      /** ms since epoch, the agent's clock */
      startedAt: number;
      /** ms; past now + the task's timeout + kill grace, the invocation is `lost` */
      resultGraceMs: number;
    }
  | ({ kind: 'result'; invocationId: string; host: string; code?: RejectCode; file?: ResultFile } & InvocationOutcome)
  /**
   * an agent's restart report: it had journaled and may have started this invocation, then stopped
   * before it ended; it becomes `lost` with `reason`, from whatever the controller guessed
   * (`pending`, `undelivered`, `lost`, or cancelled before it started), never from an outcome
   */
  | {
      kind: 'interrupted';
      invocationId: string;
      /** the host whose accepted key signed it */
      host: string;
      reason: string;
      /** ms since epoch, the agent's clock */
      at: number;
    }
  /** a state the controller decides itself: unknown_host, undelivered, lost, error */
  | {
      kind: 'verdict';
      invocationId: string;
      state: InvocationState;
      reason: string;
      at: number;
      /** only a `pending` invocation takes it (default: `pending` or `running`) */
      pendingOnly?: boolean;
      /**
       * The deadline sweeper's verdicts: taken only if the invocation is still in this state and
       * still past its deadline at `at` (a `started` or result committed since the sweeper read it
       * moved or cleared the deadline, and the verdict then changes nothing).
       */
      overdueFrom?: 'pending' | 'running';
    };

/** An invocation whose deadline has passed while it was still pending or running. */
export interface OverdueInvocation {
  invocationId: string;
  taskId: string;
  host: string;
  state: 'pending' | 'running';
}

/** One change {@link TaskStore.applyUpdates} made: the invocation and the state it is now in. */
export interface AppliedChange {
  invocationId: string;
  taskId: string;
  state: InvocationState;
  /** what made it: the agent's `started` or `result`, or the controller's own `verdict` */
  kind: InvocationUpdate['kind'];
}

/** What is under way now, counted for metrics. */
export interface StoreActivity {
  /** invocations published and not yet started */
  pending: number;
  /** invocations started and not yet finished */
  running: number;
  /** tasks with at least one invocation pending or running */
  tasksRunning: number;
}

/** Where a rolling task stands, counted in the transaction that decides its next step. */
export interface RollingProgress {
  total: number;
  /** pending and never sent */
  unsent: number;
  /** sent and not yet terminal */
  inFlight: number;
  /** sent and ended in a state other than succeeded or cancelled */
  failed: number;
  concurrency: number | null;
  maxErrors: number | null;
}

/** What a rolling step does: send the next `send` unsent invocations, or skip every unsent one. */
export type RollingStep = { send: number; skipReason?: undefined } | { send: 0; skipReason: string };

/**
 * Persistence of tasks and their per-host results. Every method is async, so that an adapter may
 * sit across a network (PostgreSQL); each one that changes several rows does it in one transaction.
 * Times are ms since epoch. A method rejects only when the storage itself fails (disk, connection):
 * stale or repeated changes are not errors, they change nothing.
 */
export interface TaskStore {
  /**
   * Creates the task and one `pending` row per host, in one transaction. An invocation with a
   * deadline counts as sent at `task.createdAt`; one with `deadlineAt: null` waits, unsent, for its
   * rolling turn (the deadline sweeper never touches it). Rejects if the task id exists.
   */
  createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number | null }[]): Promise<void>;
  /** The task, or null when there is none with that id. */
  getTask(id: string): Promise<TaskRecord | null>;
  /** The task's invocations with their whole output, ordered by host; [] for an unknown task. */
  getInvocations(taskId: string): Promise<InvocationRecord[]>;
  /**
   * These invocations of the task with their whole output, ordered by host: one read of the few
   * rows a batch of events names, not the task's every row. Ids the task does not have (another
   * task's, unknown) are left out; [] for none.
   */
  getInvocationsByIds(taskId: string, invocationIds: readonly string[]): Promise<InvocationRecord[]>;
  /** Each of the task's invocations with its state only (no output), ordered by host; [] for an unknown task. */
  invocationStates(taskId: string): Promise<InvocationStateRow[]>;
  /** One stream's stored output of the task's invocation on `host`; null when the task has no such host. */
  getOutput(taskId: string, host: string, stream: 'stdout' | 'stderr'): Promise<StoredOutput | null>;
  /** The task's hosts only (no output): cheap enough to check a token's scope on every read. */
  hostsOf(taskId: string): Promise<string[]>;
  /** How many of the task's invocations are in each state (states with none are absent). */
  countByState(taskId: string): Promise<StateCounts>;
  /** The `limit` most recent tasks matching `filter` (default: all), newest first, each with its counts by state. */
  listTasks(limit: number, filter?: TaskListFilter): Promise<TaskListItem[]>;
  /**
   * The `limit` most recent tasks matching `filter` whose every host `visible` lets through (a host-limited token's
   * view), newest first, with counts; filtered in the store, so the cost follows the page, not the
   * history (it looks back through at most the 2,000 most recent tasks).
   */
  listTasksWithin(limit: number, visible: (host: string) => boolean, filter?: TaskListFilter): Promise<TaskListItem[]>;
  /**
   * Applies updates in one transaction, idempotently: a repeated or stale update changes nothing.
   * `now` stamps the rows. Resolves once committed, with how many rows changed and the ids of tasks
   * this completed; so a caller that acks a message after it resolves never acks an uncommitted change.
   */
  applyUpdates(updates: InvocationUpdate[], now: number): Promise<{ applied: number; completedTaskIds: string[] }>;
  /**
   * Records a cancel of the task's pending and running invocations (of `hosts` only, if given), in
   * one transaction: pending ones become `cancelled` at once (an agent's later report that it did
   * run one still wins), running ones stay `running` until their agent reports the kill. When all
   * are terminal the task ends `cancelled`. Resolves with the invocations it concerned (as they
   * were before the cancel) and whether the task completed.
   */
  requestCancel(
    taskId: string,
    hosts: ReadonlySet<string> | null,
    reason: string,
    now: number,
  ): Promise<{ pending: InvocationRecord[]; running: InvocationRecord[]; completed: boolean }>;
  /**
   * One step of a rolling task, in one transaction: counts its progress, asks `decide` (a pure,
   * synchronous function, called inside the transaction), then marks the next unsent invocations
   * (in creation order) sent with `deadlineAt` and returns them, or marks every unsent one
   * `skipped` with the reason. Invocations a cancel reached are `cancelled`, never unsent. A task
   * that is not running or has nothing unsent is left alone (nothing claimed, nothing skipped).
   */
  advanceRolling(
    taskId: string,
    decide: (p: RollingProgress) => RollingStep,
    deadlineAt: number,
    now: number,
  ): Promise<{ claimed: { id: string; host: string }[]; skipped: number; completed: boolean }>;
  /** Ids of running tasks that still have unsent invocations (rolling runs to resume). */
  rollingTaskIds(): Promise<string[]>;
  /** The task and host an invocation belongs to; null if there is no such invocation. */
  invocationOwner(invocationId: string): Promise<{ taskId: string; host: string } | null>;
  /**
   * The task and host of each of these invocations, in one read (a batch of replies asks once, not
   * once per reply); an id with no such invocation is absent from the map.
   */
  invocationOwners(invocationIds: readonly string[]): Promise<Map<string, { taskId: string; host: string }>>;
  /** At most `limit` pending or running invocations whose deadline is at or before `now`, earliest deadline first. */
  findOverdue(now: number, limit: number): Promise<OverdueInvocation[]>;
  /**
   * One batch of the deadline sweep, in one transaction: claims at most `limit` invocations still
   * pending or running whose deadline is at or before `now` (earliest first), passing over any row
   * another transaction holds (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so controllers sweeping at the
   * same moment never claim the same invocation), and gives each its verdict at `now`: a pending
   * one `undelivered` with `reasons.pending`, a running one `lost` with `reasons.running`. Each
   * verdict is applied once whoever sweeps. Resolves with the invocations it gave a verdict (with
   * the state they were in) and the ids of tasks this completed.
   */
  sweepOverdue(
    now: number,
    limit: number,
    reasons: { pending: string; running: string },
  ): Promise<{ swept: OverdueInvocation[]; completedTaskIds: string[] }>;
  /** Counts of what is under way, from the index of active invocations (cheap enough for every scrape). */
  activity(): Promise<StoreActivity>;
  /** Releases the storage (the connection, shared by every store); later calls reject. Idempotent. */
  close(): Promise<void>;
}

/** Injection token of the {@link TaskStore}. */
export const TASK_STORE = Symbol('TASK_STORE');
