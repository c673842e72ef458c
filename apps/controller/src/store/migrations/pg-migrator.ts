import { type Clock, SystemClock } from '@warren/runtime';
import { MigrationError, Umzug } from 'umzug';
import { MigrationFailedError } from '../../errors/errors';
import type { PgClient, PgPool } from '../postgres/pg.database';
import { MIGRATIONS, type Migration } from './index';
import { type MigrationReport, migrationLabel, pendingAfter, SCHEMA_MIGRATIONS_DDL } from './migration-plan';

/**
 * The key of the session-level advisory lock every migration run (and `db copy`) holds, so that
 * two controllers starting together never migrate at once: the second waits, then finds nothing
 * to do. 8602282598907929698 is the eight ASCII bytes of "warrendb" read as one signed 64-bit
 * integer (0x77617272656e6462); advisory locks are per database, so other applications sharing
 * the server only collide on it within Warren's own database. See "Advisory Locks" in the
 * PostgreSQL docs (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS).
 */
export const MIGRATION_LOCK_KEY = '8602282598907929698';

/** Options of {@link migratePostgres}. */
export interface PostgresMigrateOptions {
  /** the migrations to apply, oldest first (default `MIGRATIONS.postgres`; specs pass longer lists) */
  migrations?: readonly Migration[];
  /** only report what would be applied: writes nothing, takes no lock */
  dryRun?: boolean;
  /** stamps `schema_migrations.applied_at` (default the system clock) */
  clock?: Clock;
}

/** The highest version in `schema_migrations` (0 when the table is missing or empty). */
async function pgSchemaVersion(client: PgClient): Promise<number> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (exists.rows[0].t === null) return 0;
  const max = await client.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM schema_migrations`);
  return max.rows[0].v ?? 0;
}

/** Runs `m` and records it, in one transaction on `client`: both, or neither. */
async function applyOne(client: PgClient, m: Migration, clock: Clock): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(m.sql);
    await client.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [
      m.version,
      m.name,
      clock.now(),
    ]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined); // a lost connection rolls back by itself
    throw new MigrationFailedError(migrationLabel(m), err);
  }
}

/**
 * Brings the PostgreSQL database behind `pool` to the newest schema of `migrations`: the one
 * function to call at start, before any store touches the database. It first reads the version
 * (`to_regclass('schema_migrations')`, then its highest row) with no lock and no DDL, so a user
 * with only SELECT/INSERT/UPDATE/DELETE rights starts a controller on an up-to-date database; the
 * newer-database refusal needs no lock either. Only when something is pending does it take
 * `pg_advisory_lock(MIGRATION_LOCK_KEY)` on one dedicated connection (released in `finally`, and
 * by PostgreSQL if the connection dies), create `schema_migrations` if missing and read the
 * version again under the lock, so concurrent runs apply each version once. umzug runs the
 * ordered list; its storage reads the versions in `schema_migrations`, while each row is written
 * by the migration itself, in the migration's own transaction (umzug's `logMigration` would write
 * it after the commit). Returns what was applied, or with `dryRun` what would be.
 *
 * Throws {@link SchemaTooNewError} (nothing written) when the database is newer than
 * `migrations`, {@link MigrationFailedError} when a migration fails (rolled back; those before it
 * stay applied), or the driver's error when the database cannot be reached or the user may not
 * create tables while a migration is pending (`permission denied for schema public`).
 */
export async function migratePostgres(pool: PgPool, opts: PostgresMigrateOptions = {}): Promise<MigrationReport> {
  const known = opts.migrations ?? MIGRATIONS.postgres;
  const clock = opts.clock ?? new SystemClock();
  const byLabel = new Map(known.map((m) => [migrationLabel(m), m]));
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no listener of the pool's: without one, the server going away while
  // this waits for the lock would be an unhandled 'error' and end the process. The query fails too.
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  let locked = false;
  try {
    const seen = await pgSchemaVersion(client);
    const waiting = pendingAfter(known, seen); // throws SchemaTooNewError
    const report = (from: number, applied: Migration[], dryRun = false): MigrationReport => ({
      dialect: 'postgres',
      from,
      to: dryRun ? from : from + applied.length,
      applied,
      legacy: false,
      dryRun,
    });
    if (opts.dryRun) return report(seen, waiting, true);
    if (waiting.length === 0) return report(seen, []);
    await client.query(`SELECT pg_advisory_lock($1::bigint)`, [MIGRATION_LOCK_KEY]);
    locked = true;
    await client.query(SCHEMA_MIGRATIONS_DDL);
    const from = await pgSchemaVersion(client); // another runner may have migrated while this waited
    pendingAfter(known, from);
    const umzug = new Umzug({
      migrations: known.map((m) => ({ name: migrationLabel(m), up: () => applyOne(client, m, clock) })),
      storage: {
        executed: async () => known.filter((m) => m.version <= from).map(migrationLabel),
        logMigration: async () => undefined,
        unlogMigration: async () => {
          throw new Error('Warren migrations only go forward');
        },
      },
      logger: undefined,
    });
    try {
      return report(
        from,
        (await umzug.up()).map((d) => byLabel.get(d.name)!),
      );
    } catch (err) {
      throw err instanceof MigrationError && err.cause instanceof MigrationFailedError ? err.cause : err;
    }
  } finally {
    if (locked)
      await client.query(`SELECT pg_advisory_unlock($1::bigint)`, [MIGRATION_LOCK_KEY]).catch((e: Error) => {
        broken = e; // the session is gone, and its lock with it
      });
    client.removeListener('error', onError);
    client.release(broken);
  }
}
