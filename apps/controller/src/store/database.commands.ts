import { existsSync } from 'node:fs';
import { formatColumns } from '@warren/api';
import { type Clock, SystemClock } from '@warren/runtime';
import type { CommandIo } from '../auth/token.commands';
import type { ControllerConfig } from '../config/controller.config';
import type { ControllerAction } from '../config/controller.subcommands';
import {
  CopyTargetNotEmptyError,
  MigrationFailedError,
  SchemaNotCurrentError,
  SchemaTooNewError,
} from '../errors/errors';
import { copySqliteToPostgres } from './db-copy';
import { type MigrationReport, migrationLabel } from './migrations/migration-plan';
import { migrateDatabase, printableDb } from './migrations/migrate-database';
import { isDatabaseUnavailable, openPostgres } from './postgres/pg.database';

/** Refusals printed as one line with exit status 1; anything else is a fault of its own. */
const REFUSALS = [SchemaTooNewError, SchemaNotCurrentError, MigrationFailedError, CopyTargetNotEmptyError];

/** The lines `migrate` prints for `report` of the database `where`. */
export function migrationLines(where: string, report: MigrationReport): string[] {
  const state = report.from === 0 ? (report.legacy ? ' (a file from before versioned migrations)' : ' (empty)') : '';
  // (`to`: another process may have migrated it since this one read `from`)
  if (report.applied.length === 0)
    return [`${where}: at schema version ${report.to}, the newest this warren-controller knows: nothing to do`];
  const verb = report.dryRun ? 'would apply' : 'applied';
  return [
    `${where}: at schema version ${report.from}${state}`,
    ...report.applied.map((m) => `${verb} ${migrationLabel(m)}`),
    report.dryRun ? 'dry run: nothing changed' : `${where}: now at schema version ${report.to}`,
  ];
}

/**
 * Carries out `warren-controller migrate [--dry-run]` (on `--db`) and `db copy --from --to`;
 * returns the exit status: 0 done, 1 refused (a database newer than this binary, a source not at
 * the newest version, a target that holds rows, a failed migration, PostgreSQL out of reach), the
 * reason on stderr as one line. What was done goes to stdout.
 */
export async function runDatabaseCommand(
  action: Extract<ControllerAction, { command: 'migrate' | 'db copy' }>,
  config: ControllerConfig,
  io: CommandIo,
  clock: Clock = new SystemClock(),
): Promise<number> {
  const fail = (message: string) => {
    io.stderr.write(`warren-controller: ${message}\n`);
    return 1;
  };
  try {
    if (action.command === 'migrate') {
      const report = await migrateDatabase(config.dbPath, { dryRun: action.dryRun, clock });
      io.stdout.write(migrationLines(printableDb(config.dbPath), report).join('\n') + '\n');
      return 0;
    }
    if (!existsSync(action.from)) return fail(`db copy: ${action.from}: no such file`);
    const pool = openPostgres(action.to, { max: 1, applicationName: 'warren-controller db copy', queryTimeoutMs: 0 });
    try {
      const counts = await copySqliteToPostgres(action.from, pool);
      io.stdout.write(`copied ${action.from} to ${printableDb(action.to)}:\n`);
      io.stdout.write(formatColumns(counts.map((c) => [`  ${c.table}`, String(c.rows)])).join('\n') + '\n');
      return 0;
    } finally {
      await pool.end();
    }
  } catch (err) {
    if (isDatabaseUnavailable(err)) {
      const db = action.command === 'migrate' ? config.dbPath : action.to;
      return fail(`cannot reach ${printableDb(db)}: ${(err as Error).message}`);
    }
    if (!REFUSALS.some((E) => err instanceof E)) throw err;
    return fail((err as Error).message);
  }
}
