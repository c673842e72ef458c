import { existsSync } from 'node:fs';
import type { Clock } from '@warren/runtime';
import { openDatabase } from '../database';
import { isPostgresUrl, openPostgres } from '../postgres/pg.database';
import type { MigrationReport } from './migration-plan';
import { migratePostgres } from './pg-migrator';
import { migrateSqlite } from './sqlite-migrator';

/** Options of {@link migrateDatabase}. */
export interface MigrateDatabaseOptions {
  /** only report what would be applied; a SQLite file that does not exist is not created */
  dryRun?: boolean;
  /** stamps `schema_migrations.applied_at` */
  clock?: Clock;
}

/**
 * Migrates the database `--db` names, a SQLite file or a `postgres://` URL, on a connection of its
 * own that it closes: `warren-controller migrate`, and the controller's start before anything else
 * opens the database (so that a database newer than the binary stops it with one line). Throws as
 * {@link migrateSqlite} and {@link migratePostgres} do.
 */
export async function migrateDatabase(db: string, opts: MigrateDatabaseOptions = {}): Promise<MigrationReport> {
  if (isPostgresUrl(db)) {
    const pool = openPostgres(db, { max: 1, applicationName: 'warren-controller migrate', queryTimeoutMs: 0 });
    try {
      return await migratePostgres(pool, opts);
    } finally {
      await pool.end();
    }
  }
  // A dry run reads the file without writing to it; a missing one reads as an empty database.
  const missing = db === ':memory:' || !existsSync(db);
  const file = opts.dryRun
    ? openDatabase(missing ? ':memory:' : db, missing ? { migrate: false } : { readonly: true })
    : openDatabase(db, { migrate: false });
  try {
    return migrateSqlite(file, opts);
  } finally {
    file.close();
  }
}

/**
 * `db` as it may be printed or logged: a PostgreSQL URL with its password replaced by `***`, that
 * of its userinfo and a `password=` parameter (libpq URIs may carry either:
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS); a SQLite path as it is.
 */
export function printableDb(db: string): string {
  if (!isPostgresUrl(db)) return db;
  try {
    const url = new URL(db);
    if (url.password) url.password = '***';
    if (url.searchParams.has('password')) url.searchParams.set('password', '***');
    return url.toString();
  } catch {
    return 'the PostgreSQL database';
  }
}
