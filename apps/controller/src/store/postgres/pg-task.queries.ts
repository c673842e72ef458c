import type { InvocationState } from '@warren/protocol';
import { SCOPED_LIST_WINDOW } from '../sqlite-task.queries';
import type {
  InvocationRecord,
  InvocationStateRow,
  OverdueInvocation,
  StateCounts,
  StoreActivity,
  StoredOutput,
  TaskListItem,
  TaskRecord,
} from '../task-store.port';
import type { PgPool } from './pg.database';
import {
  outputColumns,
  PG_INVOCATION_COLUMNS,
  type PgInvocationRow,
  type PgOutputRow,
  type PgTaskRow,
  toInvocation,
  toStoredOutput,
  toTask,
} from './pg-task.rows';
import { type TaskListFilter, taskFilterSql } from '../task-list.filter';

/**
 * Tasks a host-limited listing reads at once while it looks for tasks the caller may see: small
 * enough that a page found early costs little, large enough that a sparse one takes few round trips.
 */
const SCOPED_LIST_CHUNK = 100;

/**
 * Text is compared byte-wise (`COLLATE "C"`) wherever it orders rows, as SQLite's BINARY collation
 * does, whatever the database's locale (https://www.postgresql.org/docs/current/collation.html).
 */
const NEWEST_FIRST = `created_at DESC, id COLLATE "C" DESC`;

/**
 * The reads of the PostgreSQL task store, each one or two statements on the pool outside any
 * transaction (READ COMMITTED: each statement sees what was committed when it began).
 */
export class PgTaskQueries {
  constructor(private readonly pool: PgPool) {}

  async getTask(id: string): Promise<TaskRecord | null> {
    const { rows } = await this.pool.query<PgTaskRow>(`SELECT * FROM tasks WHERE id = $1`, [id]);
    return rows.length > 0 ? toTask(rows[0]) : null;
  }

  async getInvocations(taskId: string): Promise<InvocationRecord[]> {
    const { rows } = await this.pool.query<PgInvocationRow>(
      `SELECT ${PG_INVOCATION_COLUMNS} FROM invocations WHERE task_id = $1 ORDER BY host COLLATE "C"`,
      [taskId],
    );
    return rows.map(toInvocation);
  }

  async getInvocationsByIds(taskId: string, invocationIds: readonly string[]): Promise<InvocationRecord[]> {
    if (invocationIds.length === 0) return [];
    const { rows } = await this.pool.query<PgInvocationRow>(
      `SELECT ${PG_INVOCATION_COLUMNS} FROM invocations WHERE task_id = $1 AND id = ANY($2::text[]) ORDER BY host COLLATE "C"`,
      [taskId, invocationIds],
    );
    return rows.map(toInvocation);
  }

  async invocationStates(taskId: string): Promise<InvocationStateRow[]> {
    const { rows } = await this.pool.query<InvocationStateRow>(
      `SELECT id, state FROM invocations WHERE task_id = $1 ORDER BY host COLLATE "C"`,
      [taskId],
    );
    return rows;
  }

  async getOutput(taskId: string, host: string, stream: 'stdout' | 'stderr'): Promise<StoredOutput | null> {
    const { rows } = await this.pool.query<PgOutputRow>(
      `SELECT ${outputColumns(stream)} FROM invocations WHERE task_id = $1 AND host = $2`,
      [taskId, host],
    );
    return rows.length > 0 ? toStoredOutput(rows[0]) : null;
  }

  async hostsOf(taskId: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ host: string }>(`SELECT host FROM invocations WHERE task_id = $1`, [
      taskId,
    ]);
    return rows.map((r) => r.host);
  }

  async countByState(taskId: string): Promise<StateCounts> {
    return (await this.countsOf([taskId])).get(taskId) ?? {};
  }

  async listTasks(limit: number, filter: TaskListFilter = {}): Promise<TaskListItem[]> {
    const values: (string | number)[] = [limit];
    const where = taskFilterSql(filter, 'postgres', (v) => `$${values.push(v)}`);
    const { rows } = await this.pool.query<PgTaskRow>(
      `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${NEWEST_FIRST} LIMIT $1`,
      values,
    );
    return this.withCounts(rows);
  }

  /**
   * The `limit` most recent tasks matching `filter` whose every host `visible` lets through, among the
   * {@link SCOPED_LIST_WINDOW} most recent matching, newest first, each with its counts. PostgreSQL cannot
   * call `visible`: the window is read newest first, {@link SCOPED_LIST_CHUNK} tasks with their
   * hosts at a time, and asked here, host by host until one is refused, stopping once the page is
   * full (as SQLite's statement does).
   */
  async listTasksWithin(
    limit: number,
    visible: (host: string) => boolean,
    filter: TaskListFilter = {},
  ): Promise<TaskListItem[]> {
    const page: PgTaskRow[] = [];
    // Each chunk continues after the last task read (not at an offset, which a task created
    // meanwhile would shift, showing one task twice).
    let after: { created_at: number; id: string } | undefined;
    for (let read = 0; read < SCOPED_LIST_WINDOW && page.length < limit;) {
      const chunk = Math.min(SCOPED_LIST_CHUNK, SCOPED_LIST_WINDOW - read);
      const values: (string | number | null)[] = [chunk, after?.created_at ?? null, after?.id ?? null];
      const where = taskFilterSql(filter, 'postgres', (v) => `$${values.push(v)}`);
      const { rows }: { rows: (PgTaskRow & { hosts: string[] | null })[] } = await this.pool.query(
        `SELECT t.*, (SELECT array_agg(i.host ORDER BY i.seq) FROM invocations i WHERE i.task_id = t.id) AS hosts
         FROM tasks t
         WHERE ($2::bigint IS NULL OR t.created_at < $2 OR (t.created_at = $2 AND t.id COLLATE "C" < $3))
         ${where.map((w) => `AND ${w}`).join(' ')}
         ORDER BY ${NEWEST_FIRST} LIMIT $1`,
        values,
      );
      for (const { hosts, ...row } of rows) {
        if (page.length >= limit) break;
        if ((hosts ?? []).every((h) => visible(h))) page.push(row);
      }
      if (rows.length < chunk) break;
      read += rows.length;
      after = rows[rows.length - 1];
    }
    return this.withCounts(page);
  }

  async invocationOwner(invocationId: string): Promise<{ taskId: string; host: string } | null> {
    const { rows } = await this.pool.query<{ task_id: string; host: string }>(
      `SELECT task_id, host FROM invocations WHERE id = $1`,
      [invocationId],
    );
    return rows.length > 0 ? { taskId: rows[0].task_id, host: rows[0].host } : null;
  }

  async invocationOwners(invocationIds: readonly string[]): Promise<Map<string, { taskId: string; host: string }>> {
    const out = new Map<string, { taskId: string; host: string }>();
    if (invocationIds.length === 0) return out;
    const { rows } = await this.pool.query<{ id: string; task_id: string; host: string }>(
      `SELECT id, task_id, host FROM invocations WHERE id = ANY($1::text[])`,
      [invocationIds],
    );
    for (const r of rows) out.set(r.id, { taskId: r.task_id, host: r.host });
    return out;
  }

  async findOverdue(now: number, limit: number): Promise<OverdueInvocation[]> {
    const { rows } = await this.pool.query<OverdueRow>(
      `SELECT id, task_id, host, state FROM invocations WHERE state IN ('pending', 'running') AND deadline_at <= $1
       ORDER BY deadline_at, seq LIMIT $2`,
      [now, limit],
    );
    return rows.map(toOverdue);
  }

  async rollingTaskIds(): Promise<string[]> {
    const { rows } = await this.pool.query<{ task_id: string }>(
      `SELECT DISTINCT task_id FROM invocations WHERE state = 'pending' AND sent_at IS NULL`,
    );
    return rows.map((r) => r.task_id);
  }

  /** Both statements read the partial index of active invocations: their cost follows the work under way. */
  async activity(): Promise<StoreActivity> {
    const { rows } = await this.pool.query<{ state: 'pending' | 'running'; n: number; tasks: number }>(
      `SELECT state, COUNT(*)::int AS n, 0 AS tasks FROM invocations WHERE state IN ('pending', 'running') GROUP BY state
       UNION ALL
       SELECT NULL, 0, COUNT(DISTINCT task_id)::int FROM invocations WHERE state IN ('pending', 'running')`,
    );
    const a: StoreActivity = { pending: 0, running: 0, tasksRunning: 0 };
    for (const r of rows) {
      if (r.state === null) a.tasksRunning = r.tasks;
      else a[r.state] = r.n;
    }
    return a;
  }

  /** Counts by state of each of `taskIds` (a task with no invocations is absent), in one statement. */
  private async countsOf(taskIds: string[]): Promise<Map<string, StateCounts>> {
    const { rows } = await this.pool.query<{ task_id: string; state: InvocationState; n: number }>(
      `SELECT task_id, state, COUNT(*)::int AS n FROM invocations WHERE task_id = ANY($1::text[]) GROUP BY task_id, state`,
      [taskIds],
    );
    const counts = new Map<string, StateCounts>();
    for (const r of rows) {
      const c = counts.get(r.task_id) ?? {};
      c[r.state] = r.n;
      counts.set(r.task_id, c);
    }
    return counts;
  }

  private async withCounts(rows: PgTaskRow[]): Promise<TaskListItem[]> {
    if (rows.length === 0) return [];
    const counts = await this.countsOf(rows.map((r) => r.id));
    return rows.map((r) => ({ task: toTask(r), counts: counts.get(r.id) ?? {} }));
  }
}

/** A row of an overdue read, in the order the sweep judges them. */
export interface OverdueRow {
  id: string;
  task_id: string;
  host: string;
  state: 'pending' | 'running';
}

/** An overdue row as the port's record. */
export function toOverdue(r: OverdueRow): OverdueInvocation {
  return { invocationId: r.id, taskId: r.task_id, host: r.host, state: r.state };
}
