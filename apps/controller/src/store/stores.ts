import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit.port';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import type { TokenStore } from '../auth/token-store.port';
import { SqliteTokenStore } from '../auth/token.store';
import type { HostKeyRepository } from '../hosts/host-keys.port';
import type { PresenceStore } from '../hosts/presence-store.port';
import { SqlitePresenceStore } from '../hosts/sqlite-presence.store';
import { SqliteHostKeyRepository } from '../hosts/sqlite-host-key.repository';
import { openDatabase } from './database';
import type { FileStore } from './file-store.port';
import { openPostgresStores } from './postgres/pg-stores';
import { isPostgresUrl } from './postgres/pg.database';
import { SqliteFileStore } from './sqlite-file.store';
import { SqliteTaskStore } from './sqlite-task.store';
import type { AppliedChange, TaskStore } from './task-store.port';

/** Every store of the controller, over one database: what {@link openStores} builds. */
export interface Stores {
  /** `sqlite` (the file of `--db`, the default) or `postgres` (`--db postgres://…`) */
  kind: 'sqlite' | 'postgres';
  tasks: TaskStore;
  tokens: TokenStore;
  /** the audit log as stored (AuditModule folds repeated refusals in front of it) */
  audit: AuditLog;
  hostKeys: HostKeyRepository;
  presence: PresenceStore;
  /** uploaded files and fetched chunks (issue 16) */
  files: FileStore;
  /** Resolves when the database answers a trivial query (`SELECT 1`); rejects while it cannot (health). */
  ping(): Promise<void>;
  /** Closes the database (the SQLite file, or the PostgreSQL pool): last, once nothing writes any more. */
  close(): Promise<void>;
}

/** What the stores need besides the database. */
export interface StoreDeps {
  clock: Clock;
  /** the root logger: the stores log as components of it */
  logger?: Logger;
  /** told every change the task store commits (see `TaskStore`), after the commit */
  onApplied?: (changes: AppliedChange[]) => void;
}

/**
 * Builds every store for the database `--db` names: a `postgres://` or `postgresql://` URL selects
 * PostgreSQL (one pool shared by all stores, see `openPostgresStores`), anything else is the path
 * of the SQLite file (one connection shared by all stores). The one place that knows which adapter
 * goes with which kind; the rest of the controller sees the ports only.
 */
export async function openStores(db: string, deps: StoreDeps): Promise<Stores> {
  if (isPostgresUrl(db)) return openPostgresStores(db, deps);
  return openSqliteStores(db, deps);
}

/** The SQLite adapters, on one connection to the file at `path` (`:memory:` for tests), migrated as it opens. */
export function openSqliteStores(path: string, deps: StoreDeps): Stores {
  const db = openDatabase(path);
  const tasks = new SqliteTaskStore(db, deps.onApplied);
  const stores: Stores = {
    kind: 'sqlite',
    tasks,
    tokens: new SqliteTokenStore(db),
    audit: new SqliteAuditLog(db, deps.clock, deps.logger?.child({ component: 'audit' })),
    hostKeys: new SqliteHostKeyRepository(db),
    presence: new SqlitePresenceStore(db),
    files: new SqliteFileStore(db),
    ping: async () => void db.prepare('SELECT 1').get(),
    close: () => tasks.close(),
  };
  return stores;
}
