import type { Logger } from 'pino';
import { PgPresenceStore } from '../../hosts/pg-presence.store';
import type { StoreDeps, Stores } from '../stores';
import { openPostgres, type PgPool } from './pg.database';

/** The stores whose PostgreSQL adapters {@link pgAdapters} constructs. */
type PgAdapters = Pick<Stores, 'tasks' | 'tokens' | 'audit' | 'hostKeys'>;

/**
 * Every store over one PostgreSQL pool on `url` (see `openPostgres`: connections are made when
 * first needed, so a database that is down fails the first query, not this). The pool's idle
 * connection errors (the server restarted) are logged, object first, without the URL (it may
 * hold a password). Closing ends the pool, after every store has finished with it.
 */
export function openPostgresStores(url: string, deps: StoreDeps): Stores {
  const log: Logger | undefined = deps.logger?.child({ component: 'store' });
  const pool = openPostgres(url, {
    onIdleError: (err) => log?.warn({ err: err.message }, 'PostgreSQL connection lost; the pool reconnects'),
  });
  let adapters: PgAdapters;
  try {
    adapters = pgAdapters(pool, deps);
  } catch (err) {
    void pool.end();
    throw err;
  }
  return {
    kind: 'postgres',
    ...adapters,
    presence: new PgPresenceStore(pool),
    ping: async () => void (await pool.query('SELECT 1')),
    close: () => pool.end(),
  };
}

/**
 * The PostgreSQL adapters of the task, token, audit and host-key stores, all on `pool`. They are
 * written beside this change (PgTaskStore, PgTokenStore, PgAuditLog, PgHostKeyRepository); until
 * they are merged in, this refuses to start on PostgreSQL with one clear line. At the merge the
 * body is:
 *
 *     return {
 *       tasks: new PgTaskStore(pool, deps.onApplied),
 *       tokens: new PgTokenStore(pool),
 *       audit: new PgAuditLog(pool, deps.clock, deps.logger?.child({ component: 'audit' })),
 *       hostKeys: new PgHostKeyRepository(pool),
 *     };
 */
function pgAdapters(pool: PgPool, deps: StoreDeps): PgAdapters {
  void pool;
  void deps;
  throw new Error('this build has no PostgreSQL adapters yet: use a SQLite file for --db');
}
