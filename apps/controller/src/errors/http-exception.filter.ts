import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Inject,
  Optional,
} from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { type AuthedRequest, attemptedTask, clientIp } from '../auth/principal';
import { ROOT_LOGGER } from '../logger';
import {
  BadQueryError,
  BrokerUnavailableError,
  ForbiddenError,
  TaskNotFoundError,
  UnauthenticatedError,
  UnprocessableTaskError,
} from './errors';

/** The one table from domain errors to HTTP status codes. */
const STATUS_BY_ERROR: [new (...args: never[]) => Error, HttpStatus][] = [
  [BadQueryError, HttpStatus.BAD_REQUEST],
  [UnauthenticatedError, HttpStatus.UNAUTHORIZED],
  [ForbiddenError, HttpStatus.FORBIDDEN],
  [TaskNotFoundError, HttpStatus.NOT_FOUND],
  [UnprocessableTaskError, HttpStatus.UNPROCESSABLE_ENTITY],
  [BrokerUnavailableError, HttpStatus.SERVICE_UNAVAILABLE],
];

/** Maps every error to `{statusCode, error, message}`; unknown errors are logged and become 500. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly log: Logger;

  constructor(
    @Inject(ROOT_LOGGER) root: Logger,
    @Optional() @Inject(AUDIT_LOG) private readonly audit?: AuditLog,
  ) {
    this.log = root.child({ component: 'http' });
  }

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const req = host.switchToHttp().getRequest<AuthedRequest>();
    if (err instanceof HttpException) {
      const body = err.getResponse();
      if (err.getStatus() === HttpStatus.BAD_REQUEST) this.auditRefusal(req, body);
      res
        .status(err.getStatus())
        .json(typeof body === 'string' ? { statusCode: err.getStatus(), message: body } : body);
      return;
    }
    const match = STATUS_BY_ERROR.find(([cls]) => err instanceof cls);
    if (match) {
      const status = match[1];
      // RFC 6750: a 401 says which scheme would work.
      if (status === HttpStatus.UNAUTHORIZED) res.setHeader('WWW-Authenticate', 'Bearer realm="warren"');
      // A request refused as invalid (a bad host pattern, no target…) is a denial like a DTO error.
      if (status === HttpStatus.BAD_REQUEST) this.auditRefusal(req, { message: (err as Error).message });
      res.status(status).json({ statusCode: status, error: (err as Error).name, message: (err as Error).message });
      return;
    }
    this.log.error({ err }, 'unhandled error in request');
    res
      .status(500)
      .json({ statusCode: 500, error: 'InternalServerError', message: 'internal error; see the controller log' });
  }

  /**
   * An authenticated request to an audited action (`task.create`) refused as invalid is a denial
   * too: who tried what, and why it was refused. The body's command is kept only when it is a string.
   */
  private auditRefusal(req: AuthedRequest | undefined, body: unknown): void {
    const action = req?.auditAction;
    if (!this.audit || !req?.principal || !action) return;
    const message = (body as { message?: unknown } | undefined)?.message;
    const reason = Array.isArray(message) ? message.map(String).join('; ') : String(message ?? 'bad request');
    this.audit.record({
      actor: req.principal.name,
      source: clientIp(req),
      action,
      decision: 'denied',
      reason: `invalid request: ${reason}`.slice(0, 4096),
      ...attemptedTask(req.body),
    });
  }
}
