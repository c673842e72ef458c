import { SchemaTooNewError } from '../../errors/errors';
import type { Dialect, Migration } from './index';

/**
 * The table both dialects record applied migrations in: one row per version, written in the same
 * transaction as the migration's SQL. `applied_at` is ms since the epoch (the controller's clock).
 */
export const SCHEMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/** What a migration run found and did (or, with `dryRun`, would do). */
export interface MigrationReport {
  dialect: Dialect;
  /** the schema version before the run: 0 for an empty database and for a legacy SQLite file */
  from: number;
  /** the schema version after the run (`from` with `dryRun`) */
  to: number;
  /** migrations applied, oldest first; with `dryRun`, those that would be */
  applied: Migration[];
  /** a SQLite file from before versioned migrations: its tables were (would be) brought to version 1 in place */
  legacy: boolean;
  dryRun: boolean;
}

/** `0001_initial`: a migration as umzug, logs and `migrate` name it. */
export function migrationLabel(m: Migration): string {
  return `${String(m.version).padStart(4, '0')}_${m.name}`;
}

/** The newest version of `known` (0 when empty). Throws when `known` is not versions 1, 2, 3… in order. */
export function latestVersion(known: readonly Migration[]): number {
  known.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order: ${migrationLabel(m)} at position ${i + 1}`);
  });
  return known.length;
}

/**
 * The migrations of `known` a database at `version` still needs, oldest first. Throws
 * {@link SchemaTooNewError} when `version` is above every one of them.
 */
export function pendingAfter(known: readonly Migration[], version: number): Migration[] {
  const latest = latestVersion(known);
  if (version > latest) throw new SchemaTooNewError(version, latest);
  return known.filter((m) => m.version > version);
}
