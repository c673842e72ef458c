import { Pool, type PoolClient, type PoolConfig, types } from 'pg';

/** The controller's PostgreSQL connection pool, shared by every store (see {@link openPostgres}). */
export type PgPool = Pool;

/** What a transaction body gets: one client of the pool, inside `BEGIN` … `COMMIT`. */
export type PgClient = PoolClient;

/** PostgreSQL's type oid of `bigint` (`int8`): see `SELECT oid FROM pg_type WHERE typname = 'int8'`. */
const INT8_OID = 20;

/**
 * Type parsers of the pool: `bigint` columns (times in ms, byte counts) as JS numbers, not the
 * strings `pg` returns by default. Every value Warren stores in one is below 2^53.
 */
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
};

/** ms a statement may wait for its answer before its connection counts as gone (pg's `query_timeout`) */
export const QUERY_TIMEOUT_MS = 60_000;

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  /** most connections the pool opens (default 10) */
  max?: number;
  /** shown in `pg_stat_activity.application_name` (default `warren-controller`) */
  applicationName?: string;
  /**
   * ms a statement may wait for its answer (default {@link QUERY_TIMEOUT_MS}); 0: no limit, for the
   * migrations and `db copy`, whose statements (an index on a large table, a wait for the migration
   * lock) may rightly take longer
   */
  queryTimeoutMs?: number;
  /** called with an error of an idle pooled connection (the server went away); default: ignored */
  onIdleError?: (err: Error) => void;
}

/** Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`) rather than a SQLite file. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * A pool of connections to the PostgreSQL database at `url` (a libpq connection URI,
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING). Connections are made
 * when first needed, so this never fails: a query does, while the server cannot be reached
 * (`connectionTimeoutMillis` 5 s), and the pool reconnects by itself once it is back. An idle
 * connection the server drops is discarded and reported to `onIdleError` (an unhandled `error` on
 * the pool would end the process).
 */
export function openPostgres(url: string, opts: PostgresOptions = {}): PgPool {
  const config: PoolConfig = {
    connectionString: url,
    max: opts.max ?? 10,
    application_name: opts.applicationName ?? 'warren-controller',
    connectionTimeoutMillis: 5_000,
    // A connection whose packets are silently dropped (a cut network, not a refused one) would
    // hold a statement, and what waits on it, until TCP gives up, minutes later: no statement of
    // Warren's takes this long, so past it the connection counts as gone (`Query read timeout`).
    query_timeout: opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    types: pgTypes,
  };
  const pool = new Pool(config);
  pool.on('error', (err) => opts.onIdleError?.(err));
  return pool;
}

/** SQLSTATEs after which a transaction is worth running again: serialization_failure, deadlock_detected (Appendix A of PostgreSQL's docs). */
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * Runs `body` in one transaction on one pooled client: `BEGIN`, the body, `COMMIT`; `ROLLBACK` and
 * rethrow if it throws. A serialization failure or deadlock (which PostgreSQL may raise at any
 * statement, or at `COMMIT`) runs the whole body again, up to `attempts` times (default 5), so a
 * body must do nothing outside the database that it cannot repeat. Rejects with the database's
 * error otherwise (see {@link isDatabaseUnavailable}).
 */
export async function inTransaction<T>(
  pool: PgPool,
  body: (client: PgClient) => Promise<T>,
  opts: { isolation?: 'read committed' | 'repeatable read' | 'serializable'; attempts?: number } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken: Error | undefined;
    // The pool listens for errors on idle clients only: a checked-out client whose connection drops
    // (the server restarts) while the body awaits something else would emit an unhandled `error`,
    // which ends the process. Kept here, the error fails the next statement and the client is
    // discarded, not given back.
    const onError = (err: Error) => (broken ??= err);
    client.on('error', onError);
    try {
      await client.query(opts.isolation ? `BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}` : 'BEGIN');
      const out = await body(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => {
        broken = rollbackErr; // the connection is gone: do not give it back to the pool
      });
      const code = (err as { code?: string }).code;
      if (attempt < attempts && code !== undefined && RETRYABLE.has(code)) continue;
      throw err;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }
}

/** SQLSTATE classes and codes meaning "the database cannot be reached now" (08: connection exception; 57P01–57P03: shutting down or starting). */
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

/**
 * Whether `err` says the database is away (refused, reset, shutting down, too many connections,
 * connection timeout) rather than that the statement was wrong: such a failure is answered 503
 * and retried later, never turned into a state.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code !== undefined && (code.startsWith('08') || UNAVAILABLE_CODES.has(code) || UNAVAILABLE_ERRNOS.has(code)))
    return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(
    err.message,
  );
}
