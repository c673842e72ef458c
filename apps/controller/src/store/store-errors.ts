import { isDatabaseUnavailable } from './postgres/pg.database';

/**
 * SQLite result codes (better-sqlite3 puts them in `code`, extended codes included:
 * `SQLITE_IOERR_WRITE`) meaning the file cannot be used now rather than that the statement was
 * wrong: busy past the busy timeout, locked, an I/O error, a full disk, a file that cannot be
 * opened or written (https://sqlite.org/rescode.html).
 */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/;

/**
 * Whether a store call failed because the database is away (PostgreSQL unreachable, restarting,
 * out of connections: see `isDatabaseUnavailable`; or the SQLite file busy or failing), so that
 * the request is answered 503 and retried later, never turned into a state.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (isDatabaseUnavailable(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && SQLITE_UNAVAILABLE.test(code);
}
