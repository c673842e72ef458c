import {
  type CallHandler,
  type ExecutionContext,
  HttpStatus,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, from, mergeMap, type Observable, throwError } from 'rxjs';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { httpAnswerOf } from '../errors/http-exception.filter';
import { AUDIT_ACTION } from './auth.decorators';
import { type AuthedRequest, attemptedTask, clientIp } from './principal';

/**
 * Audits a request to an audited action (`@AuditAs`, e.g. `task.create`) refused as invalid (400:
 * a field the ValidationPipe refused, a bad host pattern, no target…): a denial like the guard's
 * 401 and 403, saying who tried what and why. Global (APP_INTERCEPTOR); it runs after the guard,
 * so the request has a principal, and around the pipes, so it sees their refusals.
 */
@Injectable()
export class RefusalAuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const action = this.reflector.getAllAndOverride<string | undefined>(AUDIT_ACTION, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (!action) return next.handle();
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    // The refusal is answered only once its audit record is written.
    return next
      .handle()
      .pipe(
        catchError((err: unknown) =>
          from(this.auditInvalid(req, action, err)).pipe(mergeMap(() => throwError(() => err))),
        ),
      );
  }

  private async auditInvalid(req: AuthedRequest, action: string, err: unknown): Promise<void> {
    const answer = httpAnswerOf(err);
    if (answer?.statusCode !== HttpStatus.BAD_REQUEST || !req.principal) return;
    const reason = Array.isArray(answer.message)
      ? answer.message.map(String).join('; ')
      : String(answer.message ?? 'bad request');
    await this.audit.record({
      actor: req.principal.name,
      source: clientIp(req),
      action,
      decision: 'denied',
      reason: `invalid request: ${reason}`.slice(0, 4096),
      ...attemptedTask(req.body),
    });
  }
}
