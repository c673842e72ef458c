import type { InvocationState } from '@warren/protocol';
import type { Statement } from 'better-sqlite3';
import type { Db } from './database';
import {
  INVOCATION_COLUMNS,
  type InvocationRow,
  outputColumns,
  type OutputRow,
  type TaskRow,
  toInvocation,
  toStoredOutput,
  toTask,
} from './sqlite-task.rows';
import type {
  InvocationRecord,
  InvocationStateRow,
  OverdueInvocation,
  StateCounts,
  StoreActivity,
  StoredOutput,
  TaskListItem,
  TaskRecord,
} from './task-store.port';
import { type TaskListFilter, taskFilterSql } from './task-list.filter';

/** Most recent tasks a host-limited listing walks back through for ones it may see. */
export const SCOPED_LIST_WINDOW = 2_000;

/**
 * What SQL's `warren_visible(host)` asks, set only for the duration of one synchronous statement
 * ({@link SqliteTaskQueries.listTasksWithin}); statements never interleave, so one slot serves every database.
 */
let visibleNow: (host: string) => boolean = () => false;

/** The reads of the SQLite task store: synchronous, each one statement (see {@link SqliteTaskStore}). */
export class SqliteTaskQueries {
  private readonly stmts;
  private readonly listings = new Map<string, Statement<(string | number)[]>>();

  constructor(private readonly db: Db) {
    db.function('warren_visible', { deterministic: false }, (host: unknown) =>
      typeof host === 'string' && visibleNow(host) ? 1 : 0,
    );
    this.stmts = {
      getTask: db.prepare(`SELECT * FROM tasks WHERE id = ?`),
      getInvocations: db.prepare(`SELECT ${INVOCATION_COLUMNS} FROM invocations WHERE task_id = ? ORDER BY host`),
      byId: db.prepare(`SELECT ${INVOCATION_COLUMNS} FROM invocations WHERE task_id = ? AND id = ?`),
      states: db.prepare(`SELECT id, state FROM invocations WHERE task_id = ? ORDER BY host`),
      stdout: db.prepare(`SELECT ${outputColumns('stdout')} FROM invocations WHERE task_id = ? AND host = ?`),
      stderr: db.prepare(`SELECT ${outputColumns('stderr')} FROM invocations WHERE task_id = ? AND host = ?`),
      // Only the hosts, not the rows with their output: a host-limited listing reads this per task.
      hostsOf: db.prepare(`SELECT host FROM invocations WHERE task_id = ?`).pluck(),
      countByState: db.prepare(`SELECT state, COUNT(*) AS n FROM invocations WHERE task_id = ? GROUP BY state`),
      owner: db.prepare(`SELECT task_id, host FROM invocations WHERE id = ?`),
      overdue: db.prepare(
        `SELECT id, task_id, host, state FROM invocations WHERE state IN ('pending', 'running') AND deadline_at <= ? ORDER BY deadline_at LIMIT ?`,
      ),
      rollingTasks: db
        .prepare(`SELECT DISTINCT task_id FROM invocations WHERE state = 'pending' AND sent_at IS NULL`)
        .pluck(),
      // Both read the partial index of active invocations, so their cost follows the work under way, not the history.
      activeByState: db.prepare(
        `SELECT state, COUNT(*) AS n FROM invocations WHERE state IN ('pending', 'running') GROUP BY state`,
      ),
      activeTasks: db.prepare(
        `SELECT COUNT(DISTINCT task_id) AS n FROM invocations WHERE state IN ('pending', 'running')`,
      ),
    };
  }

  getTask(id: string): TaskRecord | null {
    const row = this.stmts.getTask.get(id) as TaskRow | undefined;
    return row ? toTask(row) : null;
  }

  getInvocations(taskId: string): InvocationRecord[] {
    return (this.stmts.getInvocations.all(taskId) as InvocationRow[]).map(toInvocation);
  }

  /** By the primary key, one row per id (SQLite reads them in one synchronous call, with no round trips). */
  getInvocationsByIds(taskId: string, invocationIds: readonly string[]): InvocationRecord[] {
    const rows: InvocationRecord[] = [];
    for (const id of new Set(invocationIds)) {
      const row = this.stmts.byId.get(taskId, id) as InvocationRow | undefined;
      if (row) rows.push(toInvocation(row));
    }
    return rows.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  }

  invocationStates(taskId: string): InvocationStateRow[] {
    return this.stmts.states.all(taskId) as InvocationStateRow[];
  }

  getOutput(taskId: string, host: string, stream: 'stdout' | 'stderr'): StoredOutput | null {
    const row = this.stmts[stream].get(taskId, host) as OutputRow | undefined;
    return row ? toStoredOutput(row) : null;
  }

  hostsOf(taskId: string): string[] {
    return this.stmts.hostsOf.all(taskId) as string[];
  }

  countByState(taskId: string): StateCounts {
    const counts: StateCounts = {};
    for (const r of this.stmts.countByState.all(taskId) as { state: InvocationState; n: number }[])
      counts[r.state] = r.n;
    return counts;
  }

  /** A listing statement, prepared once per shape of filter (at most 2^6 of them). */
  private listing(sql: string) {
    let stmt = this.listings.get(sql);
    if (!stmt) {
      stmt = this.db.prepare<(string | number)[]>(sql);
      this.listings.set(sql, stmt);
    }
    return stmt;
  }

  listTasks(limit: number, filter: TaskListFilter = {}): TaskListItem[] {
    const values: (string | number)[] = [];
    const where = taskFilterSql(filter, 'sqlite', (v) => (values.push(v), '?'));
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    return (this.listing(sql).all(...values, limit) as TaskRow[]).map((row) => ({
      task: toTask(row),
      counts: this.countByState(row.id),
    }));
  }

  /**
   * The `limit` most recent tasks matching `filter` whose every host `visible` lets through, among
   * the {@link SCOPED_LIST_WINDOW} most recent matching, newest first, each with its counts: one statement that
   * stops once the page is full, and counts read for the page only.
   */
  listTasksWithin(limit: number, visible: (host: string) => boolean, filter: TaskListFilter = {}): TaskListItem[] {
    const values: (string | number)[] = [];
    const where = taskFilterSql(filter, 'sqlite', (v) => (values.push(v), '?'));
    // Newest first by the created_at index, each task's hosts by the task_id index; stops once the page is full.
    const sql = `SELECT * FROM (SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY created_at DESC, id DESC LIMIT ${SCOPED_LIST_WINDOW}) t
       WHERE NOT EXISTS (SELECT 1 FROM invocations i WHERE i.task_id = t.id AND NOT warren_visible(i.host))
       ORDER BY created_at DESC, id DESC LIMIT ?`;
    visibleNow = visible;
    let rows: TaskRow[];
    try {
      rows = this.listing(sql).all(...values, limit) as TaskRow[];
    } finally {
      visibleNow = () => false;
    }
    return rows.map((row) => ({ task: toTask(row), counts: this.countByState(row.id) }));
  }

  invocationOwner(invocationId: string): { taskId: string; host: string } | null {
    const r = this.stmts.owner.get(invocationId) as { task_id: string; host: string } | undefined;
    return r ? { taskId: r.task_id, host: r.host } : null;
  }

  findOverdue(now: number, limit: number): OverdueInvocation[] {
    const rows = this.stmts.overdue.all(now, limit) as {
      id: string;
      task_id: string;
      host: string;
      state: 'pending' | 'running';
    }[];
    return rows.map((r) => ({ invocationId: r.id, taskId: r.task_id, host: r.host, state: r.state }));
  }

  rollingTaskIds(): string[] {
    return this.stmts.rollingTasks.all() as string[];
  }

  activity(): StoreActivity {
    const a: StoreActivity = { pending: 0, running: 0, tasksRunning: 0 };
    for (const r of this.stmts.activeByState.all() as { state: 'pending' | 'running'; n: number }[]) a[r.state] = r.n;
    a.tasksRunning = (this.stmts.activeTasks.get() as { n: number }).n;
    return a;
  }
}
