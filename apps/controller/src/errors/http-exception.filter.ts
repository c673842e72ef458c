import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Inject } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '../logger';
import { BrokerUnavailableError, TaskNotFoundError, UnprocessableTaskError } from './errors';

/** The one table from domain errors to HTTP status codes. */
const STATUS_BY_ERROR: [new (...args: never[]) => Error, HttpStatus][] = [
  [TaskNotFoundError, HttpStatus.NOT_FOUND],
  [UnprocessableTaskError, HttpStatus.UNPROCESSABLE_ENTITY],
  [BrokerUnavailableError, HttpStatus.SERVICE_UNAVAILABLE],
];

/** Maps every error to `{statusCode, error, message}`; unknown errors are logged and become 500. */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly log: Logger;

  constructor(@Inject(ROOT_LOGGER) root: Logger) {
    this.log = root.child({ component: 'http' });
  }

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (err instanceof HttpException) {
      const body = err.getResponse();
      res.status(err.getStatus()).json(typeof body === 'string' ? { statusCode: err.getStatus(), message: body } : body);
      return;
    }
    const match = STATUS_BY_ERROR.find(([cls]) => err instanceof cls);
    if (match) {
      const status = match[1];
      res.status(status).json({ statusCode: status, error: (err as Error).name, message: (err as Error).message });
      return;
    }
    this.log.error({ err }, 'unhandled error in request');
    res.status(500).json({ statusCode: 500, error: 'InternalServerError', message: 'internal error; see the controller log' });
  }
}
