import { type Db, openDatabase } from './database';
import { SqliteTaskQueries } from './sqlite-task.queries';
import { SqliteTaskTransitions } from './sqlite-task.transitions';
import type {
  AppliedChange,
  InvocationRecord,
  InvocationStateRow,
  InvocationUpdate,
  OverdueInvocation,
  RollingProgress,
  RollingStep,
  StateCounts,
  StoreActivity,
  StoredOutput,
  TaskListItem,
  TaskRecord,
  TaskStore,
} from './task-store.port';
import type { TaskListFilter } from './task-list.filter';

/**
 * The default task store: one embedded SQLite file (WAL, synchronous=FULL, so that a result the
 * controller has acked survives a crash of the process or the machine). One row per (task, host).
 * better-sqlite3 is synchronous: each method does its whole work, transaction included, before its
 * promise settles, so two calls never interleave inside one. Reads are in {@link SqliteTaskQueries},
 * changes of state in {@link SqliteTaskTransitions}; the tables are made by the migrations that
 * {@link openDatabase} applies.
 */
export class SqliteTaskStore implements TaskStore {
  private readonly db: Db;
  private readonly queries: SqliteTaskQueries;
  private readonly transitions: SqliteTaskTransitions;

  /**
   * Opens `db` (a path, or a connection shared with the other stores, already migrated by
   * {@link openDatabase}). `onApplied` hears every change the store made (updates, cancels, skips), once its
   * transaction has committed and before the call's promise settles (metrics and live events count
   * there, so that whoever applies an update need not know about them); it must not throw.
   */
  constructor(pathOrDb: string | Db, onApplied: (changes: AppliedChange[]) => void = () => {}) {
    this.db = typeof pathOrDb === 'string' ? openDatabase(pathOrDb) : pathOrDb;
    this.queries = new SqliteTaskQueries(this.db);
    this.transitions = new SqliteTaskTransitions(this.db, onApplied);
  }

  async createTask(
    task: TaskRecord,
    invocations: { id: string; host: string; deadlineAt: number | null }[],
  ): Promise<void> {
    this.transitions.createTask(task, invocations);
  }

  async getTask(id: string): Promise<TaskRecord | null> {
    return this.queries.getTask(id);
  }

  async getInvocations(taskId: string): Promise<InvocationRecord[]> {
    return this.queries.getInvocations(taskId);
  }

  async getInvocationsByIds(taskId: string, invocationIds: readonly string[]): Promise<InvocationRecord[]> {
    return this.queries.getInvocationsByIds(taskId, invocationIds);
  }

  async invocationStates(taskId: string): Promise<InvocationStateRow[]> {
    return this.queries.invocationStates(taskId);
  }

  async getOutput(taskId: string, host: string, stream: 'stdout' | 'stderr'): Promise<StoredOutput | null> {
    return this.queries.getOutput(taskId, host, stream);
  }

  async hostsOf(taskId: string): Promise<string[]> {
    return this.queries.hostsOf(taskId);
  }

  async countByState(taskId: string): Promise<StateCounts> {
    return this.queries.countByState(taskId);
  }

  async listTasks(limit: number, filter?: TaskListFilter): Promise<TaskListItem[]> {
    return this.queries.listTasks(limit, filter);
  }

  async listTasksWithin(
    limit: number,
    visible: (host: string) => boolean,
    filter?: TaskListFilter,
  ): Promise<TaskListItem[]> {
    return this.queries.listTasksWithin(limit, visible, filter);
  }

  async applyUpdates(
    updates: InvocationUpdate[],
    now: number,
  ): Promise<{ applied: number; completedTaskIds: string[] }> {
    return this.transitions.applyUpdates(updates, now);
  }

  async requestCancel(
    taskId: string,
    hosts: ReadonlySet<string> | null,
    reason: string,
    now: number,
  ): Promise<{ pending: InvocationRecord[]; running: InvocationRecord[]; completed: boolean }> {
    return this.transitions.requestCancel(taskId, hosts, reason, now);
  }

  async advanceRolling(
    taskId: string,
    decide: (p: RollingProgress) => RollingStep,
    deadlineAt: number,
    now: number,
  ): Promise<{ claimed: { id: string; host: string }[]; skipped: number; completed: boolean }> {
    return this.transitions.advanceRolling(taskId, decide, deadlineAt, now);
  }

  async rollingTaskIds(): Promise<string[]> {
    return this.queries.rollingTaskIds();
  }

  async invocationOwner(invocationId: string): Promise<{ taskId: string; host: string } | null> {
    return this.queries.invocationOwner(invocationId);
  }

  async invocationOwners(invocationIds: readonly string[]): Promise<Map<string, { taskId: string; host: string }>> {
    const out = new Map<string, { taskId: string; host: string }>();
    for (const id of invocationIds) {
      const o = this.queries.invocationOwner(id);
      if (o) out.set(id, o);
    }
    return out;
  }

  async findOverdue(now: number, limit: number): Promise<OverdueInvocation[]> {
    return this.queries.findOverdue(now, limit);
  }

  async sweepOverdue(
    now: number,
    limit: number,
    reasons: { pending: string; running: string },
  ): Promise<{ swept: OverdueInvocation[]; completedTaskIds: string[] }> {
    // Read and applied with no await between: one connection, one thread, so no other change of
    // these rows can come between the two, and each verdict found is applied.
    const swept = this.queries.findOverdue(now, limit);
    const { completedTaskIds } = this.transitions.applyUpdates(
      swept.map((o) => ({
        kind: 'verdict' as const,
        invocationId: o.invocationId,
        state: o.state === 'pending' ? ('undelivered' as const) : ('lost' as const),
        reason: o.state === 'pending' ? reasons.pending : reasons.running,
        at: now,
        overdueFrom: o.state,
      })),
      now,
    );
    return { swept, completedTaskIds };
  }

  async activity(): Promise<StoreActivity> {
    return this.queries.activity();
  }

  /** Closes the shared connection (the store is the last user of it at shutdown). */
  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
