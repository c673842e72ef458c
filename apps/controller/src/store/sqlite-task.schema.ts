import { type Db, ensureColumn } from './database';

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

/**
 * Creates the tasks and invocations tables, or brings an older file up to date: schemas only ever
 * grow (new nullable or defaulted columns, new indexes), so every version reads every older file.
 */
export function migrateTaskSchema(db: Db): void {
  db.exec(SCHEMA);
  ensureColumn(db, 'tasks', 'run_as', 'TEXT');
  ensureColumn(db, 'tasks', 'created_by', 'TEXT');
  ensureColumn(db, 'invocations', 'reject_code', 'TEXT');
  ensureColumn(db, 'tasks', 'cancel_requested_at', 'INTEGER');
  ensureColumn(db, 'tasks', 'concurrency', 'INTEGER');
  ensureColumn(db, 'tasks', 'max_errors', 'INTEGER');
  ensureColumn(db, 'tasks', 'rerun_of', 'TEXT');
  ensureColumn(db, 'tasks', 'live', 'INTEGER NOT NULL DEFAULT 1');
  // Exact output: the kept bytes when the text column does not hold them exactly (NULL: it does),
  // and whether they are UTF-8 (1/0; NULL: unknown, as for every row stored before these columns).
  ensureColumn(db, 'invocations', 'stdout_raw', 'BLOB');
  ensureColumn(db, 'invocations', 'stderr_raw', 'BLOB');
  ensureColumn(db, 'invocations', 'stdout_utf8', 'INTEGER');
  ensureColumn(db, 'invocations', 'stderr_utf8', 'INTEGER');
  const hadSentAt = (db.prepare(`PRAGMA table_info(invocations)`).all() as { name: string }[]).some(
    (c) => c.name === 'sent_at',
  );
  ensureColumn(db, 'invocations', 'sent_at', 'INTEGER');
  // Every invocation stored before rolling runs existed was sent at once: never mistake one for unsent.
  if (!hadSentAt) db.exec(`UPDATE invocations SET sent_at = updated_at`);
  // Rolling runs to resume after a restart: few rows, found without scanning the history.
  db.exec(
    `CREATE INDEX IF NOT EXISTS invocations_unsent ON invocations(task_id) WHERE state = 'pending' AND sent_at IS NULL`,
  );
}
