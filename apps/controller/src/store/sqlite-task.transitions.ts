import type { Db } from './database';
import { captureParams, type InvocationRow, type TaskRow, taskParams, toInvocation } from './sqlite-task.rows';
import type {
  AppliedChange,
  InvocationRecord,
  InvocationUpdate,
  RollingProgress,
  RollingStep,
  TaskRecord,
} from './task-store.port';

/** Outcomes an agent reports only after it took the command: they override the controller's guesses. */
const RAN_STATES = `('succeeded', 'failed', 'timed_out', 'cancelled', 'error')`;

/**
 * The controller's guesses that an agent's word about a command it journaled replaces: `pending`,
 * `undelivered`, and `cancelled` by the controller before any `started` (`started_at` still null;
 * an agent's `started` always precedes its own `cancelled`, and sets it). Once an agent has
 * journaled an invocation none of them may stand: its `started` (confirmed by the broker before
 * the spawn) or its restart report moves the invocation on.
 */
const GUESSED_NOT_STARTED = `(state IN ('pending', 'undelivered') OR (state = 'cancelled' AND started_at IS NULL))`;

/**
 * The writes of the SQLite task store: every change of state, each read-then-write in one
 * synchronous SQLite transaction, so that nothing interleaves with it. `onApplied` hears the
 * invocations each one changed, after its commit. Transactions begin IMMEDIATE: with several
 * processes on one file (controllers in tests), a deferred one that reads then writes fails at once
 * with SQLITE_BUSY when another wrote in between, where an immediate one waits the busy timeout.
 */
export class SqliteTaskTransitions {
  private readonly stmts;

  constructor(
    private readonly db: Db,
    private readonly onApplied: (changes: AppliedChange[]) => void,
  ) {
    this.stmts = {
      insertTask: db.prepare(
        `INSERT INTO tasks (id, command, cwd, env, run_as, timeout_ms, delivery_timeout_ms, kill_grace_ms, state, created_at, finished_at, host_count, created_by, concurrency, max_errors, rerun_of, live, transfer, stdin)
         VALUES (@id, @command, @cwd, @env, @runAs, @timeoutMs, @deliveryTimeoutMs, @killGraceMs, @state, @createdAt, @finishedAt, @hostCount, @createdBy, @concurrency, @maxErrors, @rerunOf, @live, @transfer, @stdin)`,
      ),
      insertInvocation: db.prepare(
        `INSERT INTO invocations (id, task_id, host, state, deadline_at, sent_at, updated_at)
         VALUES (@id, @taskId, @host, 'pending', @deadlineAt, CASE WHEN @deadlineAt IS NULL THEN NULL ELSE @now END, @now)`,
      ),
      getTask: db.prepare(`SELECT * FROM tasks WHERE id = ?`),
      started: db.prepare(
        `UPDATE invocations SET state = 'running', started_at = @startedAt, deadline_at = @now + @resultGraceMs + (SELECT timeout_ms + kill_grace_ms FROM tasks WHERE tasks.id = invocations.task_id), reason = NULL, finished_at = NULL, updated_at = @now
         WHERE id = @invocationId AND host = @host AND ${GUESSED_NOT_STARTED} RETURNING task_id`,
      ),
      interrupted: db.prepare(
        `UPDATE invocations SET state = 'lost', reason = @reason, finished_at = @at, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND host = @host AND (${GUESSED_NOT_STARTED} OR state IN ('running', 'lost')) RETURNING task_id`,
      ),
      result: db.prepare(
        `UPDATE invocations SET state = @state, exit_code = @exitCode, signal = @signal,
           stdout = @stdout, stderr = @stderr, stdout_bytes = @stdoutBytes, stderr_bytes = @stderrBytes,
           stdout_truncated = @stdoutTruncated, stderr_truncated = @stderrTruncated, reason = @reason, reject_code = @code,
           stdout_raw = @stdoutRaw, stderr_raw = @stderrRaw, stdout_utf8 = @stdoutUtf8, stderr_utf8 = @stderrUtf8,
           started_at = COALESCE(@startedAt, started_at), finished_at = @finishedAt, duration_ms = @durationMs,
           result_file = @file, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND host = @host AND (state IN ('pending', 'running') OR (state IN ('undelivered', 'lost', 'cancelled') AND @state IN ${RAN_STATES}))
         RETURNING task_id`,
      ),
      verdict: db.prepare(
        `UPDATE invocations SET state = @state, reason = @reason, finished_at = @at, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND state IN ('pending', 'running') RETURNING task_id`,
      ),
      verdictIfOverdue: db.prepare(
        `UPDATE invocations SET state = @state, reason = @reason, finished_at = @at, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND state = @from AND deadline_at IS NOT NULL AND deadline_at <= @at RETURNING task_id`,
      ),
      verdictIfPending: db.prepare(
        `UPDATE invocations SET state = @state, reason = @reason, finished_at = @at, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND state = 'pending' RETURNING task_id`,
      ),
      complete: db.prepare(
        `UPDATE tasks SET state = CASE WHEN cancel_requested_at IS NULL THEN 'completed' ELSE 'cancelled' END, finished_at = @now WHERE id = @taskId AND state = 'running'
         AND NOT EXISTS (SELECT 1 FROM invocations WHERE task_id = @taskId AND state IN ('pending', 'running'))`,
      ),
      reopen: db.prepare(
        `UPDATE tasks SET state = 'running', finished_at = NULL WHERE id = @taskId AND state IN ('completed', 'cancelled')
         AND EXISTS (SELECT 1 FROM invocations WHERE task_id = @taskId AND state IN ('pending', 'running'))`,
      ),
      markCancel: db.prepare(
        `UPDATE tasks SET cancel_requested_at = COALESCE(cancel_requested_at, @now) WHERE id = @taskId`,
      ),
      activeOf: db.prepare(
        `SELECT * FROM invocations WHERE task_id = ? AND state IN ('pending', 'running') ORDER BY host`,
      ),
      rollingCounts: db.prepare(
        `SELECT COUNT(*) AS total,
           COALESCE(SUM(state = 'pending' AND sent_at IS NULL), 0) AS unsent,
           COALESCE(SUM(state IN ('pending', 'running') AND sent_at IS NOT NULL), 0) AS inFlight,
           COALESCE(SUM(state NOT IN ('pending', 'running', 'succeeded', 'cancelled', 'skipped') AND sent_at IS NOT NULL), 0) AS failed
         FROM invocations WHERE task_id = ?`,
      ),
      nextUnsent: db.prepare(
        `SELECT id, host FROM invocations WHERE task_id = ? AND state = 'pending' AND sent_at IS NULL ORDER BY rowid LIMIT ?`,
      ),
      claim: db.prepare(
        `UPDATE invocations SET sent_at = @now, deadline_at = @deadlineAt, updated_at = @now WHERE id = @id AND state = 'pending' AND sent_at IS NULL`,
      ),
      skipUnsent: db.prepare(
        `UPDATE invocations SET state = 'skipped', reason = @reason, finished_at = @now, deadline_at = NULL, updated_at = @now WHERE task_id = @taskId AND state = 'pending' AND sent_at IS NULL`,
      ),
    };
  }

  createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number | null }[]): void {
    const now = task.createdAt;
    this.db
      .transaction(() => {
        this.stmts.insertTask.run(taskParams(task));
        for (const inv of invocations) this.stmts.insertInvocation.run({ ...inv, taskId: task.id, now });
      })
      .immediate();
  }

  applyUpdates(updates: InvocationUpdate[], now: number): { applied: number; completedTaskIds: string[] } {
    const changes: AppliedChange[] = [];
    const outcome = this.db
      .transaction(() => {
        const touched = new Set<string>();
        for (const u of updates) {
          const row = this.applyOne(u, now);
          if (!row) continue;
          touched.add(row.task_id);
          const state = u.kind === 'started' ? 'running' : u.kind === 'interrupted' ? 'lost' : u.state;
          changes.push({ invocationId: u.invocationId, taskId: row.task_id, state, kind: u.kind });
        }
        const completedTaskIds: string[] = [];
        for (const taskId of touched) {
          this.stmts.reopen.run({ taskId });
          if (this.stmts.complete.run({ taskId, now }).changes > 0) completedTaskIds.push(taskId);
        }
        return { applied: changes.length, completedTaskIds };
      })
      .immediate();
    if (changes.length > 0) this.onApplied(changes);
    return outcome;
  }

  private applyOne(u: InvocationUpdate, now: number): { task_id: string } | undefined {
    const { invocationId } = u;
    switch (u.kind) {
      case 'started': {
        const { host, startedAt, resultGraceMs } = u;
        return this.stmts.started.get({ invocationId, host, startedAt, resultGraceMs, now }) as
          { task_id: string } | undefined;
      }
      case 'result':
        return this.stmts.result.get({
          invocationId,
          host: u.host,
          code: u.code ?? null,
          state: u.state,
          exitCode: u.exitCode,
          signal: u.signal,
          ...captureParams('stdout', u.stdout),
          ...captureParams('stderr', u.stderr),
          reason: u.reason,
          startedAt: u.startedAt,
          finishedAt: u.finishedAt,
          durationMs: u.durationMs,
          file: u.file ? JSON.stringify({ sha256: u.file.sha256, size: u.file.size, changed: u.file.changed }) : null,
          now,
        }) as { task_id: string } | undefined;
      case 'interrupted': {
        const params = { invocationId, host: u.host, reason: u.reason, at: u.at, now };
        return this.stmts.interrupted.get(params) as { task_id: string } | undefined;
      }
      case 'verdict': {
        const params = { invocationId, state: u.state, reason: u.reason, at: u.at, now };
        if (u.overdueFrom)
          return this.stmts.verdictIfOverdue.get({ ...params, from: u.overdueFrom }) as { task_id: string } | undefined;
        return (u.pendingOnly ? this.stmts.verdictIfPending : this.stmts.verdict).get(params) as
          { task_id: string } | undefined;
      }
    }
  }

  requestCancel(
    taskId: string,
    hosts: ReadonlySet<string> | null,
    reason: string,
    now: number,
  ): { pending: InvocationRecord[]; running: InvocationRecord[]; completed: boolean } {
    const outcome = this.db
      .transaction(() => {
        const active = (this.stmts.activeOf.all(taskId) as InvocationRow[])
          .map(toInvocation)
          .filter((r) => !hosts || hosts.has(r.host));
        if (active.length === 0) return { pending: [], running: [], completed: false };
        this.stmts.markCancel.run({ taskId, now });
        const pending = active.filter((r) => r.state === 'pending');
        for (const r of pending)
          this.stmts.verdict.get({ invocationId: r.id, state: 'cancelled', reason, at: now, now });
        const completed = this.stmts.complete.run({ taskId, now }).changes > 0;
        return { pending, running: active.filter((r) => r.state === 'running'), completed };
      })
      .immediate();
    if (outcome.pending.length > 0)
      this.onApplied(outcome.pending.map((r) => ({ invocationId: r.id, taskId, state: 'cancelled', kind: 'verdict' })));
    return outcome;
  }

  advanceRolling(
    taskId: string,
    decide: (p: RollingProgress) => RollingStep,
    deadlineAt: number,
    now: number,
  ): { claimed: { id: string; host: string }[]; skipped: number; completed: boolean } {
    let skippedIds: string[] = [];
    const outcome = this.db
      .transaction(() => {
        const row = this.stmts.getTask.get(taskId) as TaskRow | undefined;
        const none = { claimed: [], skipped: 0, completed: false };
        if (!row || row.state !== 'running') return none;
        const counts = this.stmts.rollingCounts.get(taskId) as Omit<RollingProgress, 'concurrency' | 'maxErrors'>;
        if (counts.unsent === 0) return none;
        const step = decide({ ...counts, concurrency: row.concurrency, maxErrors: row.max_errors });
        if (step.skipReason !== undefined) {
          skippedIds = (this.stmts.nextUnsent.all(taskId, counts.unsent) as { id: string }[]).map((r) => r.id);
          const skipped = this.stmts.skipUnsent.run({ taskId, reason: step.skipReason, now }).changes;
          return { claimed: [], skipped, completed: this.stmts.complete.run({ taskId, now }).changes > 0 };
        }
        // A cancel of the whole task has already made every unsent invocation `cancelled`; after a
        // cancel of some hosts the others still get their turn.
        if (step.send <= 0) return none;
        const next = this.stmts.nextUnsent.all(taskId, step.send) as { id: string; host: string }[];
        for (const inv of next) this.stmts.claim.run({ id: inv.id, deadlineAt, now });
        return { claimed: next, skipped: 0, completed: false };
      })
      .immediate();
    if (skippedIds.length > 0)
      this.onApplied(skippedIds.map((invocationId) => ({ invocationId, taskId, state: 'skipped', kind: 'verdict' })));
    return outcome;
  }
}
