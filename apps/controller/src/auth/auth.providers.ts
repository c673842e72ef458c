import type { Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { AUDIT_LOG } from '../audit/audit.port';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import { ROOT_LOGGER } from '../logger';
import { DATABASE, type Db } from '../store/database';
import { AuthGuard } from './auth.guard';
import { SqliteTokenStore } from './token.store';
import { TOKEN_STORE } from './token-store.port';
import { TokenService } from './token.service';

/** API tokens (their SQLite store and rules), the audit log (in the shared SQLite file) and the global guard. */
export const AUTH_PROVIDERS: Provider[] = [
  { provide: TOKEN_STORE, useFactory: (db: Db) => new SqliteTokenStore(db), inject: [DATABASE] },
  {
    provide: AUDIT_LOG,
    useFactory: (db: Db, clock: Clock, root: Logger) =>
      new SqliteAuditLog(db, clock, root.child({ component: 'audit' })),
    inject: [DATABASE, Clock, ROOT_LOGGER],
  },
  TokenService,
  { provide: APP_GUARD, useClass: AuthGuard },
];
