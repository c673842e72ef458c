import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AuditModule } from '../audit/audit.module';
import { DATABASE, type Db } from '../store/database';
import { StoreModule } from '../store/store.module';
import { AuthGuard } from './auth.guard';
import { RefusalAuditInterceptor } from './refusal-audit.interceptor';
import { SqliteTokenStore } from './token.store';
import { TOKEN_STORE } from './token-store.port';
import { TokenService } from './token.service';

/**
 * API tokens (their rules in {@link TokenService}, their rows behind `TOKEN_STORE` in the shared
 * SQLite file), the global guard that checks them on
 * every route (auditing each 401 and 403), and the global interceptor that audits a request to
 * an audited action refused as invalid (400).
 */
@Module({
  imports: [StoreModule, AuditModule],
  providers: [
    { provide: TOKEN_STORE, useFactory: (db: Db) => new SqliteTokenStore(db), inject: [DATABASE] },
    TokenService,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_INTERCEPTOR, useClass: RefusalAuditInterceptor },
  ],
})
export class AuthModule {}
