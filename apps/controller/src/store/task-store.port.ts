import type { InvocationOutcome, InvocationState, TaskState } from '@warren/protocol';

/** A task as stored. Times are ms since epoch. */
export interface TaskRecord {
  id: string;
  command: string;
  cwd: string | null;
  /** names only are ever shown; values are kept to re-send */
  env: Record<string, string>;
  timeoutMs: number;
  deliveryTimeoutMs: number;
  killGraceMs: number;
  state: TaskState;
  createdAt: number;
  finishedAt: number | null;
  hostCount: number;
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
  reason: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
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
      /** ms since epoch, the agent's clock */
      startedAt: number;
      /** ms; past now + the task's timeout + kill grace, the invocation is `lost` */
      resultGraceMs: number;
    }
  | ({ kind: 'result'; invocationId: string } & InvocationOutcome)
  /** a state the controller decides itself: unknown_host, undelivered, lost, error */
  | { kind: 'verdict'; invocationId: string; state: InvocationState; reason: string; at: number };

/** An invocation whose deadline has passed while it was still pending or running. */
export interface OverdueInvocation {
  invocationId: string;
  taskId: string;
  host: string;
  state: 'pending' | 'running';
}

/** Persistence of tasks and their per-host results. */
export interface TaskStore {
  /** Creates the task and one `pending` row per host, in one transaction. */
  createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number }[]): void;
  getTask(id: string): TaskRecord | null;
  getInvocations(taskId: string): InvocationRecord[];
  countByState(taskId: string): StateCounts;
  listTasks(limit: number): TaskListItem[];
  /**
   * Applies updates in one transaction, idempotently: a repeated or stale update changes nothing.
   * Returns how many rows changed and the ids of tasks this completed.
   */
  applyUpdates(updates: InvocationUpdate[], now: number): { applied: number; completedTaskIds: string[] };
  /** Pending or running invocations whose deadline is at or before `now`. */
  findOverdue(now: number, limit: number): OverdueInvocation[];
  close(): void;
}

/** Injection token of the {@link TaskStore}. */
export const TASK_STORE = Symbol('TASK_STORE');
