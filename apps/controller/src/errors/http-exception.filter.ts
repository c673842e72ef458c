import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Inject } from '@nestjs/common';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { HostPatternError, LabelError, LimitSpecError } from '@warren/api';
import { isStoreUnavailable } from '../store/store-errors';
import {
  BadQueryError,
  BadRequestBodyError,
  BodyTooLargeError,
  BrokerUnavailableError,
  DatabaseUnavailableError,
  FileNotAvailableError,
  ForbiddenError,
  HostKeyError,
  HostNotInTaskError,
  InvalidRequestError,
  TaskNotFoundError,
  TooManyEventStreamsError,
  TooManyRequestsError,
  UnauthenticatedError,
  UnprocessableTaskError,
  UnsupportedMediaTypeError,
} from './errors';

/** An error's HTTP answer: `{statusCode, error, message}`. */
export interface ErrorBody {
  statusCode: number;
  /** the kind of refusal, as the API has always named it (not the class name) */
  error: string;
  /** one line; for an {@link InvalidRequestError}, one line per bad field */
  message: string | string[];
}

/**
 * The one table from domain errors to HTTP: status, and the body's `error` text. The texts are
 * the API's (clients and scripts read them), kept as they were when some classes were named after
 * them. First match wins.
 */
const ERROR_TABLE: [new (...args: never[]) => Error, HttpStatus, string][] = [
  [InvalidRequestError, HttpStatus.BAD_REQUEST, 'Bad Request'],
  [BadQueryError, HttpStatus.BAD_REQUEST, 'BadRequest'],
  [LimitSpecError, HttpStatus.BAD_REQUEST, 'BadRequest'],
  [HostPatternError, HttpStatus.BAD_REQUEST, 'BadRequest'],
  [LabelError, HttpStatus.BAD_REQUEST, 'BadRequest'],
  [BadRequestBodyError, HttpStatus.BAD_REQUEST, 'Bad Request'],
  [BodyTooLargeError, HttpStatus.PAYLOAD_TOO_LARGE, 'Payload Too Large'],
  [UnsupportedMediaTypeError, HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'Unsupported Media Type'],
  [UnauthenticatedError, HttpStatus.UNAUTHORIZED, 'Unauthorized'],
  [ForbiddenError, HttpStatus.FORBIDDEN, 'Forbidden'],
  [TaskNotFoundError, HttpStatus.NOT_FOUND, 'TaskNotFoundError'],
  [HostNotInTaskError, HttpStatus.NOT_FOUND, 'HostNotInTaskError'],
  [HostKeyError, HttpStatus.CONFLICT, 'Conflict'],
  [FileNotAvailableError, HttpStatus.CONFLICT, 'Conflict'],
  [TooManyRequestsError, HttpStatus.TOO_MANY_REQUESTS, 'Too Many Requests'],
  [UnprocessableTaskError, HttpStatus.UNPROCESSABLE_ENTITY, 'UnprocessableTaskError'],
  [BrokerUnavailableError, HttpStatus.SERVICE_UNAVAILABLE, 'BrokerUnavailableError'],
  [DatabaseUnavailableError, HttpStatus.SERVICE_UNAVAILABLE, 'DatabaseUnavailableError'],
  [TooManyEventStreamsError, HttpStatus.SERVICE_UNAVAILABLE, 'TooManyEventStreamsError'],
];

/**
 * The HTTP answer to `err`: a domain error by the table (a store call that failed because the
 * database is away counts as a {@link DatabaseUnavailableError}); an exception of Nest's own (an
 * unknown route's 404, a `ParseIntPipe` 400, a body too large) as Nest renders it; null for
 * anything else, which is a bug (500).
 */
export function httpAnswerOf(err: unknown): ErrorBody | null {
  if (isStoreUnavailable(err)) err = new DatabaseUnavailableError();
  const row = ERROR_TABLE.find(([cls]) => err instanceof cls);
  if (row) {
    const e = err as Error;
    return { statusCode: row[1], error: row[2], message: e instanceof InvalidRequestError ? e.problems : e.message };
  }
  if (err instanceof HttpException) {
    const body = err.getResponse();
    return typeof body === 'string'
      ? ({ statusCode: err.getStatus(), message: body } as ErrorBody)
      : (body as ErrorBody);
  }
  return null;
}

/**
 * Answers every error a request ends with, by {@link httpAnswerOf}; unknown errors are logged and
 * become 500. It only maps: refusals are audited where they are decided (the auth guard, the
 * services, and {@link RefusalAuditInterceptor} for invalid requests).
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly log: Logger;

  constructor(@Inject(ROOT_LOGGER) root: Logger) {
    this.log = root.child({ component: 'http' });
  }

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const answer = httpAnswerOf(err);
    if (isStoreUnavailable(err))
      this.log.warn(
        { err: (err as Error).message, path: host.switchToHttp().getRequest<{ path?: string }>().path },
        'database unavailable: answered 503',
      );
    if (!answer) {
      this.log.error({ err }, 'unhandled error in request');
      res
        .status(500)
        .json({ statusCode: 500, error: 'InternalServerError', message: 'internal error; see the controller log' });
      return;
    }
    // RFC 6750: a 401 says which scheme would work.
    if (err instanceof UnauthenticatedError) res.setHeader('WWW-Authenticate', 'Bearer realm="warren"');
    if (err instanceof TooManyRequestsError || err instanceof TooManyEventStreamsError)
      res.setHeader('Retry-After', String(err.retryAfterSec));
    res.status(answer.statusCode).json(answer);
  }
}
