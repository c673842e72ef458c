import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { InvocationState, TaskState } from '@warren/protocol';
import type {
  InvocationRecord,
  InvocationUpdate,
  OverdueInvocation,
  StateCounts,
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
  private readonly db: Database.Database;
  private readonly stmts;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      insertTask: db.prepare(
        `INSERT INTO tasks (id, command, cwd, env, timeout_ms, delivery_timeout_ms, kill_grace_ms, state, created_at, finished_at, host_count)
         VALUES (@id, @command, @cwd, @env, @timeoutMs, @deliveryTimeoutMs, @killGraceMs, @state, @createdAt, @finishedAt, @hostCount)`,
      ),
      insertInvocation: db.prepare(
        `INSERT INTO invocations (id, task_id, host, state, deadline_at, updated_at) VALUES (@id, @taskId, @host, 'pending', @deadlineAt, @now)`,
      ),
      getTask: db.prepare(`SELECT * FROM tasks WHERE id = ?`),
      getInvocations: db.prepare(`SELECT * FROM invocations WHERE task_id = ? ORDER BY host`),
      countByState: db.prepare(`SELECT state, COUNT(*) AS n FROM invocations WHERE task_id = ? GROUP BY state`),
      listTasks: db.prepare(`SELECT * FROM tasks ORDER BY created_at DESC, id DESC LIMIT ?`),
      started: db.prepare(
        `UPDATE invocations SET state = 'running', started_at = @startedAt, deadline_at = @now + @resultGraceMs + (SELECT timeout_ms + kill_grace_ms FROM tasks WHERE tasks.id = invocations.task_id), reason = NULL, finished_at = NULL, updated_at = @now
         WHERE id = @invocationId AND state IN ('pending', 'undelivered') RETURNING task_id`,
      ),
      result: db.prepare(
        `UPDATE invocations SET state = @state, exit_code = @exitCode, signal = @signal,
           stdout = @stdout, stderr = @stderr, stdout_bytes = @stdoutBytes, stderr_bytes = @stderrBytes,
           stdout_truncated = @stdoutTruncated, stderr_truncated = @stderrTruncated, reason = @reason,
           started_at = COALESCE(@startedAt, started_at), finished_at = @finishedAt, duration_ms = @durationMs,
           deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND (state IN ('pending', 'running') OR (state IN ('undelivered', 'lost') AND @state IN ${RAN_STATES}))
         RETURNING task_id`,
      ),
      verdict: db.prepare(
        `UPDATE invocations SET state = @state, reason = @reason, finished_at = @at, deadline_at = NULL, updated_at = @now
         WHERE id = @invocationId AND state IN ('pending', 'running') RETURNING task_id`,
      ),
      complete: db.prepare(
        `UPDATE tasks SET state = 'completed', finished_at = @now WHERE id = @taskId AND state = 'running'
         AND NOT EXISTS (SELECT 1 FROM invocations WHERE task_id = @taskId AND state IN ('pending', 'running'))`,
      ),
      reopen: db.prepare(
        `UPDATE tasks SET state = 'running', finished_at = NULL WHERE id = @taskId AND state = 'completed'
         AND EXISTS (SELECT 1 FROM invocations WHERE task_id = @taskId AND state IN ('pending', 'running'))`,
      ),
      overdue: db.prepare(
        `SELECT id, task_id, host, state FROM invocations WHERE state IN ('pending', 'running') AND deadline_at <= ? ORDER BY deadline_at LIMIT ?`,
      ),
    };
  }

  createTask(task: TaskRecord, invocations: { id: string; host: string; deadlineAt: number }[]): void {
    const now = task.createdAt;
    this.db.transaction(() => {
      this.stmts.insertTask.run({ ...task, env: JSON.stringify(task.env) });
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
    for (const r of this.stmts.countByState.all(taskId) as { state: InvocationState; n: number }[]) counts[r.state] = r.n;
    return counts;
  }

  listTasks(limit: number): TaskListItem[] {
    return (this.stmts.listTasks.all(limit) as TaskRow[]).map((row) => ({ task: toTask(row), counts: this.countByState(row.id) }));
  }

  applyUpdates(updates: InvocationUpdate[], now: number): { applied: number; completedTaskIds: string[] } {
    return this.db.transaction(() => {
      const touched = new Set<string>();
      let applied = 0;
      for (const u of updates) {
        const row = this.applyOne(u, now);
        if (row) {
          applied++;
          touched.add(row.task_id);
        }
      }
      const completedTaskIds: string[] = [];
      for (const taskId of touched) {
        this.stmts.reopen.run({ taskId });
        if (this.stmts.complete.run({ taskId, now }).changes > 0) completedTaskIds.push(taskId);
      }
      return { applied, completedTaskIds };
    })();
  }

  private applyOne(u: InvocationUpdate, now: number): { task_id: string } | undefined {
    switch (u.kind) {
      case 'started':
        return this.stmts.started.get({ invocationId: u.invocationId, startedAt: u.startedAt, resultGraceMs: u.resultGraceMs, now }) as { task_id: string } | undefined;
      case 'result':
        return this.stmts.result.get({
          invocationId: u.invocationId,
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
        return this.stmts.verdict.get({ invocationId: u.invocationId, state: u.state, reason: u.reason, at: u.at, now }) as { task_id: string } | undefined;
    }
  }

  findOverdue(now: number, limit: number): OverdueInvocation[] {
    return (this.stmts.overdue.all(now, limit) as { id: string; task_id: string; host: string; state: 'pending' | 'running' }[]).map((r) => ({
      invocationId: r.id,
      taskId: r.task_id,
      host: r.host,
      state: r.state,
    }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface TaskRow {
  id: string;
  command: string;
  cwd: string | null;
  env: string;
  timeout_ms: number;
  delivery_timeout_ms: number;
  kill_grace_ms: number;
  state: TaskState;
  created_at: number;
  finished_at: number | null;
  host_count: number;
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
  started_at: number | null;
  finished_at: number | null;
  duration_ms: number | null;
}

function toTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    command: r.command,
    cwd: r.cwd,
    env: JSON.parse(r.env) as Record<string, string>,
    timeoutMs: r.timeout_ms,
    deliveryTimeoutMs: r.delivery_timeout_ms,
    killGraceMs: r.kill_grace_ms,
    state: r.state,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    hostCount: r.host_count,
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
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: r.duration_ms,
  };
}
