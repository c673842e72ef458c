import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { Clock } from '@warren/runtime';
import { AuditModule } from '../audit/audit.module';
import { QueryParamsInterceptor } from '../http/query-params.interceptor';
import { StoreModule } from '../store/store.module';
import { AuthFailureLimiter, InMemoryAuthFailureLimiter } from './auth-failure.limiter';
import { AuthGuard } from './auth.guard';
import { RefusalAuditInterceptor } from './refusal-audit.interceptor';
import { TokenService } from './token.service';
import { WhoamiController } from './whoami.controller';

/**
 * API tokens (their rules in {@link TokenService}, their rows behind `TOKEN_STORE`, from the
 * StoreModule; nothing about them is cached, so a token created or revoked through any controller
 * on the database counts on every other at its next request), the global guard that checks them on
 * every route (auditing each 401 and 403; failed authentication rate limited per address), the
 * interceptor that refuses undeclared query parameters, and the global interceptor that audits a request to
 * an audited action refused as invalid (400); and `GET /v1/whoami`.
 */
@Module({
  imports: [StoreModule, AuditModule],
  controllers: [WhoamiController],
  providers: [
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
