import type { Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { AUDIT_LOG } from '../audit/audit.port';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import { DATABASE, type Db } from '../store/database';
import { AuthGuard } from './auth.guard';
import { SqliteTokenStore, TOKEN_STORE } from './token.store';

/** API tokens, the audit log (both in the shared SQLite file) and the global guard. */
export const AUTH_PROVIDERS: Provider[] = [
  { provide: TOKEN_STORE, useFactory: (db: Db) => new SqliteTokenStore(db), inject: [DATABASE] },
  {
    provide: AUDIT_LOG,
    useFactory: (db: Db, root: Logger) => new SqliteAuditLog(db, root.child({ component: 'audit' })),
    inject: [DATABASE, ROOT_LOGGER],
  },
  { provide: APP_GUARD, useClass: AuthGuard },
];
