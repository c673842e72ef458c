import postgres0001 from './postgres/0001_initial.sql?raw';
import postgres0002 from './postgres/0002_files.sql?raw';
import postgres0003 from './postgres/0003_active_by_task.sql?raw';
import sqlite0001 from './sqlite/0001_initial.sql?raw';
import sqlite0002 from './sqlite/0002_files.sql?raw';
import sqlite0003 from './sqlite/0003_active_by_task.sql?raw';

/** One schema migration: plain SQL, applied once, in `version` order, recorded in `schema_migrations`. */
export interface Migration {
  /** 1, 2, 3…: the schema version the database is at once this is applied */
  version: number;
  /** the file's name without its number and `.sql` (`initial`) */
  name: string;
  /**
   * the statements, as written in `<dialect>/NNNN_<name>.sql` (bundled into the build by `?raw`);
   * no BEGIN/COMMIT: the runner wraps them and their `schema_migrations` row in one transaction
   */
  sql: string;
}

/** The SQL dialects Warren stores in. */
export type Dialect = 'sqlite' | 'postgres';

/**
 * Every migration of each dialect, oldest first. Both lists have the same versions and names: a
 * change to the schema is a new file in each directory, never an edit of an applied one.
 */
export const MIGRATIONS: Record<Dialect, readonly Migration[]> = {
  sqlite: [
    { version: 1, name: 'initial', sql: sqlite0001 },
    { version: 2, name: 'files', sql: sqlite0002 },
    { version: 3, name: 'active_by_task', sql: sqlite0003 },
  ],
  postgres: [
    { version: 1, name: 'initial', sql: postgres0001 },
    { version: 2, name: 'files', sql: postgres0002 },
    { version: 3, name: 'active_by_task', sql: postgres0003 },
  ],
};
