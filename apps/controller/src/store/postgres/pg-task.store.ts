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
} from '../task-store.port';
import type { PgPool } from './pg.database';
import { PgTaskQueries } from './pg-task.queries';
import { PgTaskTransitions } from './pg-task.transitions';
import type { TaskListFilter } from '../task-list.filter';

/**
 * True when `s` holds U+0000, which no PostgreSQL text value can
 * (https://www.postgresql.org/docs/current/datatype-character.html): no row has such an id, and a
 * statement that names one fails (`invalid byte sequence for encoding "UTF8": 0x00`). The store
 * answers as for an unknown id instead, as SQLite does, so a task id from a URL gets a 404 and one
 * bad reply cannot fail the batch it came in.
 */
const unstorable = (...ids: string[]): boolean => ids.some((id) => id.includes('\u0000'));

/**
 * The task store on PostgreSQL, which several controllers share (`--db postgres://…`), with the
 * same semantics as {@link SqliteTaskStore} (one contract suite runs against both). Its tables come
 * from the migrations (`MIGRATIONS.postgres`): it never creates or alters one. Reads are in
 * {@link PgTaskQueries}; changes of state in {@link PgTaskTransitions}, each one transaction that
 * locks the rows of the tasks it changes (the deadline sweep with `SKIP LOCKED`), so that each
 * task's completion and each deadline verdict is decided once, whichever controller commits it.
 */
export class PgTaskStore implements TaskStore {
  private readonly queries: PgTaskQueries;
  private readonly transitions: PgTaskTransitions;
  private closed = false;

  /**
   * `pool` is shared with the other stores (see `openPostgres`). `onApplied` hears every change the
   * store made (updates, cancels, skips, sweeps), once its transaction has committed and before the
   * call's promise settles; it must not throw. A change committed by another controller is not
   * heard here.
   */
  constructor(
    private readonly pool: PgPool,
    onApplied: (changes: AppliedChange[]) => void = () => {},
  ) {
    this.queries = new PgTaskQueries(pool);
    this.transitions = new PgTaskTransitions(pool, onApplied);
  }

  createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number | null }[]): Promise<void> {
    return this.transitions.createTask(task, invocations);
  }

  async getTask(id: string): Promise<TaskRecord | null> {
    return unstorable(id) ? null : this.queries.getTask(id);
  }

  async getInvocations(taskId: string): Promise<InvocationRecord[]> {
    return unstorable(taskId) ? [] : this.queries.getInvocations(taskId);
  }

  async getInvocationsByIds(taskId: string, invocationIds: readonly string[]): Promise<InvocationRecord[]> {
    if (unstorable(taskId)) return [];
    return this.queries.getInvocationsByIds(
      taskId,
      invocationIds.filter((id) => !unstorable(id)),
    );
  }

  async invocationStates(taskId: string): Promise<InvocationStateRow[]> {
    return unstorable(taskId) ? [] : this.queries.invocationStates(taskId);
  }

  async getOutput(taskId: string, host: string, stream: 'stdout' | 'stderr'): Promise<StoredOutput | null> {
    return unstorable(taskId, host) ? null : this.queries.getOutput(taskId, host, stream);
  }

  async hostsOf(taskId: string): Promise<string[]> {
    return unstorable(taskId) ? [] : this.queries.hostsOf(taskId);
  }

  async countByState(taskId: string): Promise<StateCounts> {
    return unstorable(taskId) ? {} : this.queries.countByState(taskId);
  }

  listTasks(limit: number, filter?: TaskListFilter): Promise<TaskListItem[]> {
    return this.queries.listTasks(limit, filter);
  }

  listTasksWithin(limit: number, visible: (host: string) => boolean, filter?: TaskListFilter): Promise<TaskListItem[]> {
    return this.queries.listTasksWithin(limit, visible, filter);
  }

  /** An update naming an id no row can have (see {@link unstorable}) changes nothing, as an unknown one. */
  applyUpdates(updates: InvocationUpdate[], now: number): Promise<{ applied: number; completedTaskIds: string[] }> {
    const storable = updates.filter((u) => !unstorable(u.invocationId, 'host' in u ? u.host : ''));
    return this.transitions.applyUpdates(storable, now);
  }

  async requestCancel(
    taskId: string,
    hosts: ReadonlySet<string> | null,
    reason: string,
    now: number,
  ): Promise<{ pending: InvocationRecord[]; running: InvocationRecord[]; completed: boolean }> {
    if (unstorable(taskId)) return { pending: [], running: [], completed: false };
    return this.transitions.requestCancel(taskId, hosts, reason, now);
  }

  async advanceRolling(
    taskId: string,
    decide: (p: RollingProgress) => RollingStep,
    deadlineAt: number,
    now: number,
  ): Promise<{ claimed: { id: string; host: string }[]; skipped: number; completed: boolean }> {
    if (unstorable(taskId)) return { claimed: [], skipped: 0, completed: false };
    return this.transitions.advanceRolling(taskId, decide, deadlineAt, now);
  }

  rollingTaskIds(): Promise<string[]> {
    return this.queries.rollingTaskIds();
  }

  async invocationOwner(invocationId: string): Promise<{ taskId: string; host: string } | null> {
    return unstorable(invocationId) ? null : this.queries.invocationOwner(invocationId);
  }

  invocationOwners(invocationIds: readonly string[]): Promise<Map<string, { taskId: string; host: string }>> {
    return this.queries.invocationOwners(invocationIds.filter((id) => !unstorable(id)));
  }

  findOverdue(now: number, limit: number): Promise<OverdueInvocation[]> {
    return this.queries.findOverdue(now, limit);
  }

  sweepOverdue(
    now: number,
    limit: number,
    reasons: { pending: string; running: string },
  ): Promise<{ swept: OverdueInvocation[]; completedTaskIds: string[] }> {
    return this.transitions.sweepOverdue(now, limit, reasons);
  }

  activity(): Promise<StoreActivity> {
    return this.queries.activity();
  }

  /** Ends the pool, shared by every store (the store is the last user of it at shutdown). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
