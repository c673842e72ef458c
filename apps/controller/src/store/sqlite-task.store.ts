import { type Db, ensureColumn, openDatabase } from './database';
import type { InvocationState, RejectCode, TaskState } from '@warren/protocol';
import type {
  AppliedChange,
  InvocationRecord,
  InvocationUpdate,
  OverdueInvocation,
  RollingProgress,
  RollingStep,
  StateCounts,
  StoreActivity,
  TaskListItem,
  TaskRecord,
  TaskStore,
} from './task-store.port';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  command TEXT NOT NULL,
  cwd TEXT,
  env TEXT NOT NULL,
  timeout_ms INTEGER NOT NULL,
  delivery_timeout_ms INTEGER NOT NULL,
  kill_grace_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  host_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks(created_at DESC);
CREATE TABLE IF NOT EXISTS invocations (
  id TEXT PRIMARY KEY,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  host TEXT NOT NULL,
  state TEXT NOT NULL,
  exit_code INTEGER,
  signal TEXT,
  stdout TEXT NOT NULL DEFAULT '',
  stderr TEXT NOT NULL DEFAULT '',
  stdout_bytes INTEGER NOT NULL DEFAULT 0,
  stderr_bytes INTEGER NOT NULL DEFAULT 0,
  stdout_truncated INTEGER NOT NULL DEFAULT 0,
  stderr_truncated INTEGER NOT NULL DEFAULT 0,
  reason TEXT,
  started_at INTEGER,
  finished_at INTEGER,
  duration_ms INTEGER,
  deadline_at INTEGER,
  updated_at INTEGER NOT NULL,
  UNIQUE (task_id, host)
);
CREATE INDEX IF NOT EXISTS invocations_by_task ON invocations(task_id);
CREATE INDEX IF NOT EXISTS invocations_active_deadline ON invocations(deadline_at) WHERE state IN ('pending', 'running');
`;

/** Outcomes an agent reports only after it took the command: they override the controller's guesses. */
const RAN_STATES = `('succeeded', 'failed', 'timed_out', 'cancelled', 'error')`;

/**
 * The default task store: one embedded SQLite file (WAL, synchronous=FULL, so that a result the
 * controller has acked survives a crash of the process or the machine). One row per (task, host).
 */
export class SqliteTaskStore implements TaskStore {
  private readonly db: Db;
  private readonly stmts;

  /**
   * Opens `db` (a path, or a connection shared with the other stores) and creates the tables.
   * `onApplied` hears every change {@link applyUpdates} made, once its transaction has committed
   * (metrics count there, so that whoever applies an update need not know about them); it must not throw.
   */
  constructor(
    pathOrDb: string | Db,
    private readonly onApplied?: (changes: AppliedChange[]) => void,
  ) {
    this.db = typeof pathOrDb === 'string' ? openDatabase(pathOrDb) : pathOrDb;
    this.db.exec(SCHEMA);
    ensureColumn(this.db, 'tasks', 'run_as', 'TEXT');
    ensureColumn(this.db, 'tasks', 'created_by', 'TEXT');
    ensureColumn(this.db, 'invocations', 'reject_code', 'TEXT');
    ensureColumn(this.db, 'tasks', 'cancel_requested_at', 'INTEGER');
    ensureColumn(this.db, 'tasks', 'concurrency', 'INTEGER');
    ensureColumn(this.db, 'tasks', 'max_errors', 'INTEGER');
    ensureColumn(this.db, 'tasks', 'rerun_of', 'TEXT');
    ensureColumn(this.db, 'tasks', 'live', 'INTEGER NOT NULL DEFAULT 1');
    const hadSentAt = (this.db.prepare(`PRAGMA table_info(invocations)`).all() as { name: string }[]).some(
      (c) => c.name === 'sent_at',
    );
    ensureColumn(this.db, 'invocations', 'sent_at', 'INTEGER');
    // Every invocation stored before rolling runs existed was sent at once: never mistake one for unsent.
    if (!hadSentAt) this.db.exec(`UPDATE invocations SET sent_at = updated_at`);
    // Rolling runs to resume after a restart: few rows, found without scanning the history.
    this.db.exec(
      `CREATE INDEX IF NOT EXISTS invocations_unsent ON invocations(task_id) WHERE state = 'pending' AND sent_at IS NULL`,
    );
    const db = this.db;
    this.stmts = {
      insertTask: db.prepare(
        `INSERT INTO tasks (id, command, cwd, env, run_as, timeout_ms, delivery_timeout_ms, kill_grace_ms, state, created_at, finished_at, host_count, created_by, concurrency, max_errors, rerun_of, live)
         VALUES (@id, @command, @cwd, @env, @runAs, @timeoutMs, @deliveryTimeoutMs, @killGraceMs, @state, @createdAt, @finishedAt, @hostCount, @createdBy, @concurrency, @maxErrors, @rerunOf, @live)`,
      ),
      insertInvocation: db.prepare(
        `INSERT INTO invocations (id, task_id, host, state, deadline_at, sent_at, updated_at)
         VALUES (@id, @taskId, @host, 'pending', @deadlineAt, CASE WHEN @deadlineAt IS NULL THEN NULL ELSE @now END, @now)`,
      ),
      getTask: db.prepare(`SELECT * FROM tasks WHERE id = ?`),
      getInvocations: db.prepare(`SELECT * FROM invocations WHERE task_id = ? ORDER BY host`),
      countByState: db.prepare(`SELECT state, COUNT(*) AS n FROM invocations WHERE task_id = ? GROUP BY state`),
      listTasks: db.prepare(`SELECT * FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?`),
      started: db.prepare(
        `UPDATE invocations SET state = 'running', started_at = @startedAt, deadline_at = @now + @resultGraceMs + (SELECT timeout_ms + kill_grace_ms FROM tasks WHERE tasks.id = invocations.task_id), reason = NULL, finished_at = NULL, updated_at = @now
         WHERE id = @invocationId AND host = @host AND state IN ('pending', 'undelivered') RETURNING task_id`,
      ),
      result: db.prepare(
        `UPDATE invocations SET state = @state, exit_code = @exitCode, signal = @signal,
           stdout = @stdout, stderr = @stderr, stdout_bytes = @stdoutBytes, stderr_bytes = @stderrBytes,
           stdout_truncated = @stdoutTruncated, stderr_truncated = @stderrTruncated, reason = @reason, reject_code = @code,
           started_at = COALESCE(@startedAt, started_at), finished_at = @finishedAt, duration_ms = @durationMs,
           deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND host = @host AND (state IN ('pending', 'running') OR (state IN ('undelivered', 'lost', 'cancelled') AND @state IN ${RAN_STATES}))
         RETURNING task_id`,
      ),
      verdict: db.prepare(
        `UPDATE invocations SET state = @state, reason = @reason, finished_at = @at, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND state IN ('pending', 'running') RETURNING task_id`,
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
      // Both read the partial index of active invocations, so their cost follows the work under way, not the history.
      activeByState: db.prepare(
        `SELECT state, COUNT(*) AS n FROM invocations WHERE state IN ('pending', 'running') GROUP BY state`,
      ),
      activeTasks: db.prepare(
        `SELECT COUNT(DISTINCT task_id) AS n FROM invocations WHERE state IN ('pending', 'running')`,
      ),
      markCancel: db.prepare(
        `UPDATE tasks SET cancel_requested_at = COALESCE(cancel_requested_at, @now) WHERE id = @taskId`,
      ),
      owner: db.prepare(`SELECT task_id, host FROM invocations WHERE id = ?`),
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
      rollingTasks: db
        .prepare(`SELECT DISTINCT task_id FROM invocations WHERE state = 'pending' AND sent_at IS NULL`)
        .pluck(),
      overdue: db.prepare(
        `SELECT id, task_id, host, state FROM invocations WHERE state IN ('pending', 'running') AND deadline_at <= ? ORDER BY deadline_at LIMIT ?`,
      ),
    };
  }

  createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number | null }[]): void {
    const now = task.createdAt;
    this.db.transaction(() => {
      this.stmts.insertTask.run({
        ...task,
        env: JSON.stringify(task.env),
        concurrency: task.concurrency ?? null,
        maxErrors: task.maxErrors ?? null,
        rerunOf: task.rerunOf ?? null,
        live: task.live === false ? 0 : 1,
      });
      for (const inv of invocations) this.stmts.insertInvocation.run({ ...inv, taskId: task.id, now });
    })();
  }

  getTask(id: string): TaskRecord | null {
    const row = this.stmts.getTask.get(id) as TaskRow | undefined;
    return row ? toTask(row) : null;
  }

  getInvocations(taskId: string): InvocationRecord[] {
    return (this.stmts.getInvocations.all(taskId) as InvocationRow[]).map(toInvocation);
  }

  countByState(taskId: string): StateCounts {
    const counts: StateCounts = {};
    for (const r of this.stmts.countByState.all(taskId) as { state: InvocationState; n: number }[])
      counts[r.state] = r.n;
    return counts;
  }

  listTasks(limit: number): TaskListItem[] {
    return (this.stmts.listTasks.all(limit) as TaskRow[]).map((row) => ({
      task: toTask(row),
      counts: this.countByState(row.id),
    }));
  }

  applyUpdates(updates: InvocationUpdate[], now: number): { applied: number; completedTaskIds: string[] } {
    const changes: AppliedChange[] = [];
    const outcome = this.db.transaction(() => {
      const touched = new Set<string>();
      let applied = 0;
      for (const u of updates) {
        const row = this.applyOne(u, now);
        if (row) {
          applied++;
          touched.add(row.task_id);
          changes.push({
            invocationId: u.invocationId,
            taskId: row.task_id,
            state: u.kind === 'started' ? 'running' : u.state,
            kind: u.kind,
          });
        }
      }
      const completedTaskIds: string[] = [];
      for (const taskId of touched) {
        this.stmts.reopen.run({ taskId });
        if (this.stmts.complete.run({ taskId, now }).changes > 0) completedTaskIds.push(taskId);
      }
      return { applied, completedTaskIds };
    })();
    if (changes.length > 0) this.onApplied?.(changes);
    return outcome;
  }

  private applyOne(u: InvocationUpdate, now: number): { task_id: string } | undefined {
    switch (u.kind) {
      case 'started':
        return this.stmts.started.get({
          invocationId: u.invocationId,
          host: u.host,
          startedAt: u.startedAt,
          resultGraceMs: u.resultGraceMs,
          now,
        }) as { task_id: string } | undefined;
      case 'result':
        return this.stmts.result.get({
          invocationId: u.invocationId,
          host: u.host,
          code: u.code ?? null,
          state: u.state,
          exitCode: u.exitCode,
          signal: u.signal,
          stdout: u.stdout.data,
          stderr: u.stderr.data,
          stdoutBytes: u.stdout.bytes,
          stderrBytes: u.stderr.bytes,
          stdoutTruncated: u.stdout.truncated ? 1 : 0,
          stderrTruncated: u.stderr.truncated ? 1 : 0,
          reason: u.reason,
          startedAt: u.startedAt,
          finishedAt: u.finishedAt,
          durationMs: u.durationMs,
          now,
        }) as { task_id: string } | undefined;
      case 'verdict':
        return (u.pendingOnly ? this.stmts.verdictIfPending : this.stmts.verdict).get({
          invocationId: u.invocationId,
          state: u.state,
          reason: u.reason,
          at: u.at,
          now,
        }) as { task_id: string } | undefined;
    }
  }

  requestCancel(
    taskId: string,
    hosts: ReadonlySet<string> | null,
    reason: string,
    now: number,
  ): { pending: InvocationRecord[]; running: InvocationRecord[]; completed: boolean } {
    const outcome = this.db.transaction(() => {
      const active = (this.stmts.activeOf.all(taskId) as InvocationRow[])
        .map(toInvocation)
        .filter((r) => !hosts || hosts.has(r.host));
      if (active.length === 0) return { pending: [], running: [], completed: false };
      this.stmts.markCancel.run({ taskId, now });
      const pending = active.filter((r) => r.state === 'pending');
      for (const r of pending) this.stmts.verdict.get({ invocationId: r.id, state: 'cancelled', reason, at: now, now });
      const completed = this.stmts.complete.run({ taskId, now }).changes > 0;
      return { pending, running: active.filter((r) => r.state === 'running'), completed };
    })();
    if (outcome.pending.length > 0)
      this.onApplied?.(
        outcome.pending.map((r) => ({ invocationId: r.id, taskId, state: 'cancelled', kind: 'verdict' })),
      );
    return outcome;
  }

  advanceRolling(
    taskId: string,
    decide: (p: RollingProgress) => RollingStep,
    deadlineAt: number,
    now: number,
  ): { claimed: { id: string; host: string }[]; skipped: number; completed: boolean } {
    let skippedIds: string[] = [];
    const outcome = this.db.transaction(() => {
      const row = this.stmts.getTask.get(taskId) as TaskRow | undefined;
      const none = { claimed: [], skipped: 0, completed: false };
      if (!row || row.state !== 'running') return none;
      const counts = this.stmts.rollingCounts.get(taskId) as {
        total: number;
        unsent: number;
        inFlight: number;
        failed: number;
      };
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
    })();
    if (skippedIds.length > 0)
      this.onApplied?.(skippedIds.map((invocationId) => ({ invocationId, taskId, state: 'skipped', kind: 'verdict' })));
    return outcome;
  }

  rollingTaskIds(): string[] {
    return this.stmts.rollingTasks.all() as string[];
  }

  invocationOwner(invocationId: string): { taskId: string; host: string } | null {
    const r = this.stmts.owner.get(invocationId) as { task_id: string; host: string } | undefined;
    return r ? { taskId: r.task_id, host: r.host } : null;
  }

  findOverdue(now: number, limit: number): OverdueInvocation[] {
    return (
      this.stmts.overdue.all(now, limit) as {
        id: string;
        task_id: string;
        host: string;
        state: 'pending' | 'running';
      }[]
    ).map((r) => ({
      invocationId: r.id,
      taskId: r.task_id,
      host: r.host,
      state: r.state,
    }));
  }

  activity(): StoreActivity {
    const a: StoreActivity = { pending: 0, running: 0, tasksRunning: 0 };
    for (const r of this.stmts.activeByState.all() as { state: 'pending' | 'running'; n: number }[]) a[r.state] = r.n;
    a.tasksRunning = (this.stmts.activeTasks.get() as { n: number }).n;
    return a;
  }

  /** Closes the shared connection (the store is the last user of it at shutdown). */
  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface TaskRow {
  id: string;
  command: string;
  cwd: string | null;
  env: string;
  run_as: string | null;
  created_by: string | null;
  timeout_ms: number;
  delivery_timeout_ms: number;
  kill_grace_ms: number;
  state: TaskState;
  created_at: number;
  finished_at: number | null;
  host_count: number;
  cancel_requested_at: number | null;
  concurrency: number | null;
  max_errors: number | null;
  rerun_of: string | null;
  live: number;
}

interface InvocationRow {
  id: string;
  task_id: string;
  host: string;
  state: InvocationState;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  stdout_truncated: number;
  stderr_truncated: number;
  reason: string | null;
  reject_code: RejectCode | null;
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
  sent_at: number | null;
}

function toTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    command: r.command,
    cwd: r.cwd,
    env: JSON.parse(r.env) as Record<string, string>,
    runAs: r.run_as,
    createdBy: r.created_by,
    timeoutMs: r.timeout_ms,
    deliveryTimeoutMs: r.delivery_timeout_ms,
    killGraceMs: r.kill_grace_ms,
    state: r.state,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    hostCount: r.host_count,
    concurrency: r.concurrency,
    maxErrors: r.max_errors,
    rerunOf: r.rerun_of,
    live: r.live !== 0,
  };
}

function toInvocation(r: InvocationRow): InvocationRecord {
  return {
    id: r.id,
    taskId: r.task_id,
    host: r.host,
    state: r.state,
    exitCode: r.exit_code,
    signal: r.signal,
    stdout: r.stdout,
    stderr: r.stderr,
    stdoutBytes: r.stdout_bytes,
    stderrBytes: r.stderr_bytes,
    stdoutTruncated: r.stdout_truncated === 1,
    stderrTruncated: r.stderr_truncated === 1,
    reason: r.reason,
    rejectCode: r.reject_code,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
    sentAt: r.sent_at,
  };
}
