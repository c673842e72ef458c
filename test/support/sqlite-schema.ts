import { MIGRATIONS } from '../../apps/controller/src/store/migrations';
import { type Db, openDatabase } from '../../apps/controller/src/store/database';

/**
 * An in-memory SQLite database at the current schema (every SQLite migration applied, plain SQL in
 * order): what a SQLite adapter's contract spec runs on, whether or not the adapter still creates
 * its own tables.
 */
export function migratedSqlite(): Db {
  const db = openDatabase(':memory:');
  for (const m of MIGRATIONS.sqlite) db.exec(m.sql);
  return db;
}
