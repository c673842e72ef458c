import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/** Injection token of the one SQLite connection every store of the controller shares. */
export const DATABASE = Symbol('DATABASE');

/** The controller's SQLite database. */
export type Db = Database.Database;

/**
 * Opens (creating if needed) the controller's SQLite file: WAL, synchronous=FULL (an acked result
 * survives a crash of the process or the machine), a busy timeout so that the `warren-controller
 * token …` commands can write while the controller runs, and foreign keys on.
 */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Adds `column` to `table` when an older file lacks it (schemas only ever grow). */
export function ensureColumn(db: Db, table: string, column: string, definition: string): void {
  const cols = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
  if (!cols.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
}
