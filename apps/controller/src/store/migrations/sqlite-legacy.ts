import type { Db } from '../database';

/** The tables Warren kept in its SQLite file before versioned migrations (each store created its own). */
const LEGACY_TABLES = [
  'tasks',
  'invocations',
  'api_tokens',
  'audit_log',
  'host_keys',
  'host_key_rejections',
  'host_key_pre_accepts',
];

/**
 * Columns added to a table after its first release, in the order they were added (each was an
 * `ensureColumn` call of the store that owned the table). Tables and indexes missing altogether
 * are created afterwards by `sqlite/0001_initial.sql`, whose statements are all `IF NOT EXISTS`.
 */
const ADDED_COLUMNS: [table: string, column: string, definition: string][] = [
  ['tasks', 'run_as', 'TEXT'],
  ['tasks', 'created_by', 'TEXT'],
  ['invocations', 'reject_code', 'TEXT'],
  ['tasks', 'cancel_requested_at', 'INTEGER'],
  ['tasks', 'concurrency', 'INTEGER'],
  ['tasks', 'max_errors', 'INTEGER'],
  ['tasks', 'rerun_of', 'TEXT'],
  ['tasks', 'live', 'INTEGER NOT NULL DEFAULT 1'],
  ['invocations', 'stdout_raw', 'BLOB'],
  ['invocations', 'stderr_raw', 'BLOB'],
  ['invocations', 'stdout_utf8', 'INTEGER'],
  ['invocations', 'stderr_utf8', 'INTEGER'],
  ['invocations', 'sent_at', 'INTEGER'],
  // a file from before `count`: every record in it stood for one decision
  ['audit_log', 'count', 'INTEGER NOT NULL DEFAULT 1'],
  ['host_keys', 'last_sent_at', 'INTEGER NOT NULL DEFAULT 0'],
  ['host_keys', 'labels', `TEXT NOT NULL DEFAULT '{}'`],
  // keys accepted before labels were recorded: their labels are accepted as they are next announced
  ['host_keys', 'accepted_labels', 'TEXT'],
];

const tableExists = (db: Db, table: string) =>
  db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) !== undefined;

const hasColumn = (db: Db, table: string, column: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === column);

/** Whether `db` holds Warren tables but no `schema_migrations`: a file written before versioned migrations. */
export function isLegacySqlite(db: Db): boolean {
  return !tableExists(db, 'schema_migrations') && LEGACY_TABLES.some((t) => tableExists(db, t));
}

/**
 * Adds to a legacy file's tables every column they lack, as the stores used to at each start; the
 * caller then runs `0001_initial.sql` (missing tables and indexes) and records version 1, all in
 * one transaction. Schemas only ever grew, so the oldest file reaches the version 1 shape this way.
 */
export function upgradeLegacySqlite(db: Db): void {
  const hadInvocations = tableExists(db, 'invocations');
  const hadSentAt = hadInvocations && hasColumn(db, 'invocations', 'sent_at');
  for (const [table, column, definition] of ADDED_COLUMNS)
    if (tableExists(db, table) && !hasColumn(db, table, column))
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
  // Every invocation stored before rolling runs existed was sent at once: never mistake one for unsent.
  if (hadInvocations && !hadSentAt) db.exec(`UPDATE invocations SET sent_at = updated_at`);
}
