import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrateSqlite, type SqliteMigrateOptions } from './migrations/sqlite-migrator';

/** The controller's SQLite database. */
export type Db = Database.Database;

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /**
   * bring the schema to the newest version ({@link migrateSqlite}) before returning (default true);
   * false opens the file as it is (`migrate --dry-run`, specs that build an older file)
   */
  migrate?: boolean;
  /**
   * open an existing file read-only, changing nothing in it or its mode (`db copy`'s source);
   * implies `migrate: false`. Throws when the file does not exist.
   */
  readonly?: boolean;
  /** what {@link migrateSqlite} is given: the migration list (specs), the clock of `applied_at` */
  migrateOptions?: Omit<SqliteMigrateOptions, 'dryRun'>;
}

/**
 * Opens (creating if needed) the controller's SQLite file: WAL, synchronous=FULL (an acked result
 * survives a crash of the process or the machine), a busy timeout so that the `warren-controller
 * token …` commands can write while the controller runs, and foreign keys on. The file, its `-wal`
 * and its `-shm` are readable by the owner only (0600): they hold token hashes and env values.
 * Then migrates it (see {@link OpenDatabaseOptions.migrate}): the stores create no tables. Throws
 * {@link SchemaTooNewError} (the file closed again) for a file a newer warren-controller migrated.
 */
export function openDatabase(path: string, opts: OpenDatabaseOptions = {}): Db {
  if (opts.readonly) {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  }
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    makeDatabasePrivate(path);
  }
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  if (opts.migrate !== false) {
    try {
      migrateSqlite(db, opts.migrateOptions);
    } catch (err) {
      db.close();
      throw err;
    }
  }
  return db;
}

/**
 * Creates the database file 0600 when missing (SQLite creates `-wal` and `-shm` with the mode of
 * the database file, so they follow), and takes group and other access away from an existing
 * file and its `-wal` and `-shm` (an installation from before this rule had them 0644).
 */
function makeDatabasePrivate(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      continue; // no -wal or -shm yet
    }
    if ((mode & 0o077) !== 0) chmodSync(file, mode & 0o700);
  }
}

/**
 * The octal mode (`"755"`) of `dir` when its group or others may read, write or enter it, else
 * null (also when it does not exist): the controller warns at start, as the files in it are secrets.
 */
export function openToOthers(dir: string): string | null {
  try {
    const mode = statSync(dir).mode & 0o777;
    return (mode & 0o077) !== 0 ? mode.toString(8) : null;
  } catch {
    return null;
  }
}
