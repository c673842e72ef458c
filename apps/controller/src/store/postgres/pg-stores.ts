import type { Logger } from 'pino';
import { PgAuditLog } from '../../audit/pg-audit.log';
import { PgTokenStore } from '../../auth/pg-token.store';
import { PgHostKeyRepository } from '../../hosts/pg-host-key.repository';
import { PgPresenceStore } from '../../hosts/pg-presence.store';
import type { StoreDeps, Stores } from '../stores';
import { openPostgres } from './pg.database';
import { PgFileStore } from './pg-file.store';
import { PgTaskStore } from './pg-task.store';

/**
 * Every store over one PostgreSQL pool on `url` (see `openPostgres`: connections are made when
 * first needed, so a database that is down fails the first query, not this; the schema is
 * migrated before, at start or by `warren-controller migrate`). The pool's idle connection errors
 * (the server restarted) are logged, object first, without the URL (it may hold a password).
 * Closing ends the pool, after every store has finished with it.
 */
export function openPostgresStores(url: string, deps: StoreDeps): Stores {
  const log: Logger | undefined = deps.logger?.child({ component: 'store' });
  const pool = openPostgres(url, {
    onIdleError: (err) => log?.warn({ err: err.message }, 'PostgreSQL connection lost; the pool reconnects'),
  });
  return {
    kind: 'postgres',
    tasks: new PgTaskStore(pool, deps.onApplied),
    tokens: new PgTokenStore(pool),
    audit: new PgAuditLog(pool, deps.clock, deps.logger?.child({ component: 'audit' })),
    hostKeys: new PgHostKeyRepository(pool),
    presence: new PgPresenceStore(pool),
    files: new PgFileStore(pool),
    ping: async () => void (await pool.query('SELECT 1')),
    close: () => pool.end(),
  };
}
