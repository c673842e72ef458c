import { MIGRATIONS } from '../../apps/controller/src/store/migrations';
import { type Db, openDatabase } from '../../apps/controller/src/store/database';

/**
 * An in-memory SQLite database at the current schema (every SQLite migration applied, plain SQL in
 * order): what a SQLite adapter's contract spec runs on, whether or not the adapter still creates
 * its own tables.
 */
export function migratedSqlite(): Db {
  // Not migrated on open: each migration is applied here once (a second run of 0002's ALTER TABLE fails).
  const db = openDatabase(':memory:', { migrate: false });
  for (const m of MIGRATIONS.sqlite) db.exec(m.sql);
  return db;
}
