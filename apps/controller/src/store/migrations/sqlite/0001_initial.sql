-- Warren controller schema, version 1 (SQLite). Times are ms since epoch (INTEGER); booleans are 0/1;
-- JSON values are TEXT. The PostgreSQL twin is ../postgres/0001_initial.sql: keep the two in step.
-- Every statement is IF NOT EXISTS: a file from before versioned migrations gets its missing columns
-- first (../sqlite-legacy.ts), then this file adds its missing tables and indexes.

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
  host_count INTEGER NOT NULL,
  run_as TEXT,
  created_by TEXT,
  cancel_requested_at INTEGER,
  concurrency INTEGER,
  max_errors INTEGER,
  rerun_of TEXT,
  live INTEGER NOT NULL DEFAULT 1
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
  reject_code TEXT,
  -- the kept bytes when the text column does not hold them exactly (NULL: it does)
  stdout_raw BLOB,
  stderr_raw BLOB,
  -- whether the kept bytes are UTF-8 (1/0; NULL: unknown, an agent before exact capture)
  stdout_utf8 INTEGER,
  stderr_utf8 INTEGER,
  -- when the controller published it; NULL while a rolling run has not reached it
  sent_at INTEGER,
  UNIQUE (task_id, host)
);
CREATE INDEX IF NOT EXISTS invocations_by_task ON invocations(task_id);
CREATE INDEX IF NOT EXISTS invocations_active_deadline ON invocations(deadline_at) WHERE state IN ('pending', 'running');
CREATE INDEX IF NOT EXISTS invocations_unsent ON invocations(task_id) WHERE state = 'pending' AND sent_at IS NULL;

CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  host_patterns TEXT,
  hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);

CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  source TEXT,
  action TEXT NOT NULL,
  decision TEXT NOT NULL,
  reason TEXT,
  task_id TEXT,
  hosts TEXT,
  command TEXT,
  cwd TEXT,
  env_names TEXT,
  run_as TEXT,
  invocation_id TEXT,
  detail TEXT,
  count INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS audit_by_task ON audit_log(task_id) WHERE task_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_by_at ON audit_log(at);

CREATE TABLE IF NOT EXISTS host_keys (
  host TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'retired')),
  first_seen_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  accepted_at INTEGER,
  accepted_by TEXT,
  last_sent_at INTEGER NOT NULL DEFAULT 0,
  labels TEXT NOT NULL DEFAULT '{}',
  accepted_labels TEXT,
  PRIMARY KEY (host, key_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS host_keys_one_accepted ON host_keys(host) WHERE status = 'accepted';
CREATE INDEX IF NOT EXISTS host_keys_pending_heard ON host_keys(last_seen_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS host_key_rejections (
  host TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  rejected_at INTEGER NOT NULL,
  rejected_by TEXT NOT NULL,
  PRIMARY KEY (host, key_id)
);
CREATE TABLE IF NOT EXISTS host_key_pre_accepts (
  host TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  accepted_by TEXT NOT NULL
);

-- Presence: each host's newest verified heartbeat (or goodbye), shared by every controller and kept
-- across restarts. A row is written only for a heartbeat newer (sent_at) than the one it holds.
CREATE TABLE IF NOT EXISTS hosts (
  host TEXT PRIMARY KEY,
  -- fingerprint of the key that signed the heartbeat
  key_id TEXT NOT NULL,
  -- 'online' or 'goodbye', as the agent said
  status TEXT NOT NULL CHECK (status IN ('online', 'goodbye')),
  labels TEXT NOT NULL DEFAULT '{}',
  version TEXT NOT NULL,
  running INTEGER NOT NULL,
  concurrency INTEGER NOT NULL,
  interval_ms INTEGER NOT NULL,
  -- the heartbeat's signed sentAt (agent clock)
  sent_at INTEGER NOT NULL,
  -- controller clock when a controller read it
  received_at INTEGER NOT NULL
);
