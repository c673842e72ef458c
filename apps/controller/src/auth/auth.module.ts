import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { Clock } from '@warren/runtime';
import { AuditModule } from '../audit/audit.module';
import { QueryParamsInterceptor } from '../http/query-params.interceptor';
import { DATABASE, type Db } from '../store/database';
import { StoreModule } from '../store/store.module';
import { AuthFailureLimiter, InMemoryAuthFailureLimiter } from './auth-failure.limiter';
import { AuthGuard } from './auth.guard';
import { RefusalAuditInterceptor } from './refusal-audit.interceptor';
import { SqliteTokenStore } from './token.store';
import { TOKEN_STORE } from './token-store.port';
import { TokenService } from './token.service';

/**
 * API tokens (their rules in {@link TokenService}, their rows behind `TOKEN_STORE` in the shared
 * SQLite file), the global guard that checks them on
 * every route (auditing each 401 and 403; failed authentication rate limited per address), the
 * interceptor that refuses undeclared query parameters, and the global interceptor that audits a request to
 * an audited action refused as invalid (400).
 */
@Module({
  imports: [StoreModule, AuditModule],
  providers: [
    { provide: TOKEN_STORE, useFactory: (db: Db) => new SqliteTokenStore(db), inject: [DATABASE] },
    TokenService,
    // Per process: controllers sharing a database would share an adapter of this port instead.
    {
      provide: AuthFailureLimiter,
      useFactory: (clock: Clock) => new InMemoryAuthFailureLimiter(clock),
      inject: [Clock],
    },
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_INTERCEPTOR, useClass: RefusalAuditInterceptor },
    // Inside the refusal audit (global interceptors nest in the order registered): its 400s are audited too.
    { provide: APP_INTERCEPTOR, useClass: QueryParamsInterceptor },
  ],
  exports: [TokenService],
})
export class AuthModule {}
