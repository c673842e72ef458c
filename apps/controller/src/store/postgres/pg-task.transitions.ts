import type {
  AppliedChange,
  InvocationRecord,
  InvocationUpdate,
  OverdueInvocation,
  RollingProgress,
  RollingStep,
  TaskRecord,
} from '../task-store.port';
import { inTransaction, type PgPool } from './pg.database';
import { type OverdueRow, toOverdue } from './pg-task.queries';
import {
  PG_INVOCATION_COLUMNS,
  type PgInvocationRow,
  type PgTaskRow,
  TASK_INSERT_COLUMNS,
  taskValues,
  toInvocation,
} from './pg-task.rows';
import { applyUpdatesIn, lockTasks, settleTasks } from './pg-task.updates';

/**
 * The writes of the PostgreSQL task store, each one transaction (READ COMMITTED, retried on a
 * deadlock or serialization failure by {@link inTransaction}, so a body only decides from what it
 * reads inside). Every transaction that changes a task's invocations locks the task's row first
 * (see {@link lockTasks}), so that controllers sharing the database change one task one at a
 * time; the deadline sweep takes its locks without ever waiting (`SKIP LOCKED`), so it can never
 * be part of a deadlock. `onApplied` hears the invocations each one changed, after its commit.
 */
export class PgTaskTransitions {
  constructor(
    private readonly pool: PgPool,
    private readonly onApplied: (changes: AppliedChange[]) => void,
  ) {}

  async createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number | null }[]) {
    const now = task.createdAt;
    await inTransaction(this.pool, async (c) => {
      const values = taskValues(task);
      await c.query(
        `INSERT INTO tasks (${TASK_INSERT_COLUMNS}) VALUES (${values.map((_, n) => `$${n + 1}`).join(', ')})`,
        values,
      );
      // Inserted in the order given, so `seq` (an identity) keeps the hosts' order for a rolling run.
      await c.query(
        `INSERT INTO invocations (id, task_id, host, state, deadline_at, sent_at, updated_at)
         SELECT v.id, $1, v.host, 'pending', v.deadline_at, CASE WHEN v.deadline_at IS NULL THEN NULL ELSE $2::bigint END, $2
         FROM unnest($3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS v(id, host, deadline_at, n) ORDER BY v.n`,
        [
          task.id,
          now,
          invocations.map((i) => i.id),
          invocations.map((i) => i.host),
          invocations.map((i) => i.deadlineAt),
        ],
      );
    });
  }

  async applyUpdates(
    updates: InvocationUpdate[],
    now: number,
  ): Promise<{ applied: number; completedTaskIds: string[] }> {
    const { changes, completedTaskIds } = await inTransaction(this.pool, (c) => applyUpdatesIn(c, updates, now));
    if (changes.length > 0) this.onApplied(changes);
    return { applied: changes.length, completedTaskIds };
  }

  async requestCancel(
    taskId: string,
    hosts: ReadonlySet<string> | null,
    reason: string,
    now: number,
  ): Promise<{ pending: InvocationRecord[]; running: InvocationRecord[]; completed: boolean }> {
    const outcome = await inTransaction(this.pool, async (c) => {
      const none = { pending: [], running: [], completed: false };
      if ((await lockTasks(c, [taskId])).length === 0) return none;
      const { rows } = await c.query<PgInvocationRow>(
        `SELECT ${PG_INVOCATION_COLUMNS} FROM invocations WHERE task_id = $1 AND state IN ('pending', 'running') ORDER BY host COLLATE "C"`,
        [taskId],
      );
      const active = rows.map(toInvocation).filter((r) => !hosts || hosts.has(r.host));
      if (active.length === 0) return none;
      await c.query(`UPDATE tasks SET cancel_requested_at = COALESCE(cancel_requested_at, $2) WHERE id = $1`, [
        taskId,
        now,
      ]);
      const pending = active.filter((r) => r.state === 'pending');
      await c.query(
        `UPDATE invocations SET state = 'cancelled', reason = $2, finished_at = $3, deadline_at = NULL, updated_at = $3
         WHERE id = ANY($1::text[]) AND state IN ('pending', 'running')`,
        [pending.map((r) => r.id), reason, now],
      );
      const completed = (await settleTasks(c, [taskId], now)).length > 0;
      return { pending, running: active.filter((r) => r.state === 'running'), completed };
    });
    if (outcome.pending.length > 0)
      this.onApplied(outcome.pending.map((r) => ({ invocationId: r.id, taskId, state: 'cancelled', kind: 'verdict' })));
    return outcome;
  }

  async advanceRolling(
    taskId: string,
    decide: (p: RollingProgress) => RollingStep,
    deadlineAt: number,
    now: number,
  ): Promise<{ claimed: { id: string; host: string }[]; skipped: number; completed: boolean }> {
    let skippedIds: string[] = [];
    const outcome = await inTransaction(this.pool, async (c) => {
      skippedIds = [];
      const none = { claimed: [], skipped: 0, completed: false };
      const { rows: tasks } = await c.query<Pick<PgTaskRow, 'state' | 'concurrency' | 'max_errors'>>(
        `SELECT state, concurrency, max_errors FROM tasks WHERE id = $1 FOR UPDATE`,
        [taskId],
      );
      if (tasks.length === 0 || tasks[0].state !== 'running') return none;
      const { rows: progress } = await c.query<Omit<RollingProgress, 'concurrency' | 'maxErrors'>>(
        `SELECT COUNT(*)::int AS total,
           COUNT(*) FILTER (WHERE state = 'pending' AND sent_at IS NULL)::int AS unsent,
           COUNT(*) FILTER (WHERE state IN ('pending', 'running') AND sent_at IS NOT NULL)::int AS "inFlight",
           COUNT(*) FILTER (WHERE state NOT IN ('pending', 'running', 'succeeded', 'cancelled', 'skipped') AND sent_at IS NOT NULL)::int AS failed
         FROM invocations WHERE task_id = $1`,
        [taskId],
      );
      const counts = progress[0];
      if (counts.unsent === 0) return none;
      const step = decide({ ...counts, concurrency: tasks[0].concurrency, maxErrors: tasks[0].max_errors });
      if (step.skipReason !== undefined) {
        const { rows: skipped } = await c.query<{ id: string; seq: number }>(
          `UPDATE invocations SET state = 'skipped', reason = $2, finished_at = $3, deadline_at = NULL, updated_at = $3
           WHERE task_id = $1 AND state = 'pending' AND sent_at IS NULL RETURNING id, seq`,
          [taskId, step.skipReason, now],
        );
        skippedIds = skipped.sort((a, b) => a.seq - b.seq).map((r) => r.id);
        const completed = (await settleTasks(c, [taskId], now)).length > 0;
        return { claimed: [], skipped: skipped.length, completed };
      }
      // A cancel of the whole task has already made every unsent invocation `cancelled`; after a
      // cancel of some hosts the others still get their turn.
      if (step.send <= 0) return none;
      // Only the rows this statement did mark are claimed (none is marked twice, whoever else steps).
      const { rows: next } = await c.query<{ id: string; host: string; seq: number }>(
        `WITH next AS (
           SELECT id FROM invocations WHERE task_id = $1 AND state = 'pending' AND sent_at IS NULL ORDER BY seq LIMIT $2)
         UPDATE invocations i SET sent_at = $3, deadline_at = $4, updated_at = $3
         FROM next WHERE i.id = next.id AND i.state = 'pending' AND i.sent_at IS NULL
         RETURNING i.id, i.host, i.seq`,
        [taskId, step.send, now, deadlineAt],
      );
      const claimed = next.sort((a, b) => a.seq - b.seq).map(({ id, host }) => ({ id, host }));
      return { claimed, skipped: 0, completed: false };
    });
    if (skippedIds.length > 0)
      this.onApplied(skippedIds.map((invocationId) => ({ invocationId, taskId, state: 'skipped', kind: 'verdict' })));
    return outcome;
  }

  /**
   * One batch of the deadline sweep (see the port), never waiting for a lock: it claims overdue
   * invocations no other transaction holds (`FOR UPDATE SKIP LOCKED`, earliest deadline first),
   * then the rows of their tasks that no other transaction holds (`SKIP LOCKED` again: a task being
   * changed elsewhere is judged in a later batch), and gives a verdict to the claimed invocations
   * of the tasks it locked, each conditional on the invocation being still overdue. So sweepers
   * running at once take disjoint batches, a verdict is applied once, and since the sweep waits
   * for nobody it can close no cycle of waits with the transactions that lock a task first
   * (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
   */
  async sweepOverdue(
    now: number,
    limit: number,
    reasons: { pending: string; running: string },
  ): Promise<{ swept: OverdueInvocation[]; completedTaskIds: string[] }> {
    const { swept, changes, completedTaskIds } = await inTransaction(this.pool, async (c) => {
      const { rows: claimed } = await c.query<OverdueRow>(
        `SELECT id, task_id, host, state FROM invocations
         WHERE state IN ('pending', 'running') AND deadline_at <= $1
         ORDER BY deadline_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [now, limit],
      );
      if (claimed.length === 0) return { swept: [], changes: [], completedTaskIds: [] };
      const { rows: locked } = await c.query<{ id: string }>(
        `SELECT id FROM tasks WHERE id = ANY($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE SKIP LOCKED`,
        [[...new Set(claimed.map((r) => r.task_id))]],
      );
      const ours = new Set(locked.map((r) => r.id));
      const judged = claimed.filter((r) => ours.has(r.task_id)).map(toOverdue);
      const verdicts: InvocationUpdate[] = judged.map((o) => ({
        kind: 'verdict',
        invocationId: o.invocationId,
        state: o.state === 'pending' ? 'undelivered' : 'lost',
        reason: o.state === 'pending' ? reasons.pending : reasons.running,
        at: now,
        overdueFrom: o.state,
      }));
      const out = await applyUpdatesIn(c, verdicts, now);
      const applied = new Set(out.changes.map((ch) => ch.invocationId));
      return { swept: judged.filter((o) => applied.has(o.invocationId)), ...out };
    });
    if (changes.length > 0) this.onApplied(changes);
    return { swept, completedTaskIds };
  }
}
