import { type Clock, SystemClock } from '@warren/runtime';
import { MigrationFailedError, SchemaTooNewError } from '../../errors/errors';
import type { Db } from '../database';
import { MIGRATIONS, type Migration } from './index';
import {
  latestVersion,
  type MigrationReport,
  migrationLabel,
  pendingAfter,
  SCHEMA_MIGRATIONS_DDL,
} from './migration-plan';
import { isLegacySqlite, upgradeLegacySqlite } from './sqlite-legacy';

/** Options of {@link migrateSqlite}. */
export interface SqliteMigrateOptions {
  /** the migrations to apply, oldest first (default `MIGRATIONS.sqlite`; specs pass longer lists) */
  migrations?: readonly Migration[];
  /** only report what would be applied: nothing is written (the file may be open read-only) */
  dryRun?: boolean;
  /** stamps `schema_migrations.applied_at` (default the system clock) */
  clock?: Clock;
}

/** The version a SQLite file is at (0: empty or legacy), and whether it is a legacy file. */
export function sqliteSchemaVersion(db: Db): { version: number; legacy: boolean } {
  if (isLegacySqlite(db)) return { version: 0, legacy: true };
  const table = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).get();
  if (table === undefined) return { version: 0, legacy: false };
  const row = db.prepare(`SELECT MAX(version) AS v FROM schema_migrations`).get() as { v: number | null };
  return { version: row.v ?? 0, legacy: false };
}

/**
 * Brings a SQLite file to the newest schema of `migrations`, synchronously (better-sqlite3; the
 * stores prepare their statements in their constructors, right after the file is opened). Each
 * migration runs with its `schema_migrations` row in one `BEGIN IMMEDIATE` transaction, which also
 * re-reads the version: a second process opening the same file at once (a `token` command while
 * the controller starts) waits on the write lock (busy timeout), then finds nothing to do. A legacy
 * file (Warren tables, no `schema_migrations`) gets its missing columns first, then version 1 is
 * recorded as applied. umzug is not used here: its API is promise-based, and opening the file is not.
 *
 * Throws {@link SchemaTooNewError} (before writing anything) when the file is newer than
 * `migrations`, {@link MigrationFailedError} when a migration's SQL fails (rolled back).
 */
export function migrateSqlite(db: Db, opts: SqliteMigrateOptions = {}): MigrationReport {
  const known = opts.migrations ?? MIGRATIONS.sqlite;
  const clock = opts.clock ?? new SystemClock();
  const start = sqliteSchemaVersion(db);
  const pending = pendingAfter(known, start.version);
  const report: MigrationReport = {
    dialect: 'sqlite',
    from: start.version,
    to: start.version,
    applied: [],
    legacy: start.legacy,
    dryRun: opts.dryRun === true,
  };
  if (opts.dryRun) return { ...report, applied: pending };
  const record = (m: Migration) => {
    db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(
      m.version,
      m.name,
      clock.now(),
    );
  };
  for (const m of pending) {
    const apply = db.transaction(() => {
      const now = sqliteSchemaVersion(db);
      pendingAfter(known, now.version);
      if (now.version >= m.version) return false;
      if (now.legacy) upgradeLegacySqlite(db);
      db.exec(SCHEMA_MIGRATIONS_DDL);
      db.exec(m.sql);
      record(m);
      return true;
    });
    let applied: boolean;
    try {
      applied = apply.immediate();
    } catch (err) {
      if (err instanceof SchemaTooNewError) throw err;
      throw new MigrationFailedError(migrationLabel(m), err);
    }
    if (applied) report.applied.push(m);
  }
  return { ...report, to: latestVersion(known) };
}
