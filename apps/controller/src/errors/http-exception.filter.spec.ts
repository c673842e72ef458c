import { NotFoundException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { HostPatternError, LabelError, LimitSpecError } from '@warren/api';
import {
  BadQueryError,
  BadRequestBodyError,
  BodyTooLargeError,
  BrokerUnavailableError,
  DatabaseUnavailableError,
  ForbiddenError,
  HostKeyError,
  InvalidRequestError,
  TaskNotFoundError,
  TooManyEventStreamsError,
  TooManyRequestsError,
  UnauthenticatedError,
  UnprocessableTaskError,
  UnsupportedMediaTypeError,
} from './errors';
import { httpAnswerOf } from './http-exception.filter';

describe('the error table', () => {
  it.each([
    [new InvalidRequestError(['command must be a string', 'hosts must be an array']), 400, 'Bad Request'],
    [new BadQueryError('limit must be a whole number from 1 to 1000'), 400, 'BadRequest'],
    [new LimitSpecError('concurrency must be a whole number'), 400, 'BadRequest'],
    [new HostPatternError('web[3-1]', 'range 3-1 runs backwards', 'hosts'), 400, 'BadRequest'],
    [new LabelError('value of zone must be a string', 'labels'), 400, 'BadRequest'],
    [new BadRequestBodyError('the body nests deeper than 32 levels'), 400, 'Bad Request'],
    [new UnauthenticatedError('the token is not valid'), 401, 'Unauthorized'],
    [new ForbiddenError('role viewer'), 403, 'Forbidden'],
    [new TaskNotFoundError('t_x'), 404, 'TaskNotFoundError'],
    [new HostKeyError('no agent has announced host web1'), 409, 'Conflict'],
    [new BodyTooLargeError('the body is larger than 8388608 bytes'), 413, 'Payload Too Large'],
    [new UnsupportedMediaTypeError('content-type must be application/json'), 415, 'Unsupported Media Type'],
    [new UnprocessableTaskError('no host matches'), 422, 'UnprocessableTaskError'],
    [new TooManyRequestsError(2), 429, 'Too Many Requests'],
    [new BrokerUnavailableError('not connected'), 503, 'BrokerUnavailableError'],
    [new DatabaseUnavailableError(), 503, 'DatabaseUnavailableError'],
    [new TooManyEventStreamsError(1000, 5), 503, 'TooManyEventStreamsError'],
  ])('answers %s with %i and the error text the API has always sent', (err, status, error) => {
    expect(err.name).toBe(err.constructor.name);
    expect(httpAnswerOf(err)).toEqual({
      statusCode: status,
      error,
      message: err instanceof InvalidRequestError ? err.problems : err.message,
    });
  });

  it("passes Nest's own exceptions (an unknown route) through as Nest renders them", () => {
    expect(httpAnswerOf(new NotFoundException('Cannot GET /nope'))).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'Cannot GET /nope',
    });
  });

  it.each([
    ['PostgreSQL refused', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['PostgreSQL shutting down', Object.assign(new Error('terminating connection'), { code: '57P01' })],
    ['the pool timing out', new Error('timeout exceeded when trying to connect')],
    ['SQLite busy', Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })],
    ['SQLite failing to write', Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' })],
  ])('answers a store call failing with %s 503, naming no server', (_what, err) => {
    expect(httpAnswerOf(err)).toEqual({
      statusCode: 503,
      error: 'DatabaseUnavailableError',
      message: new DatabaseUnavailableError().message,
    });
  });

  it('answers a wrong statement (not the database away) 500', () => {
    expect(httpAnswerOf(Object.assign(new Error('syntax error'), { code: '42601' }))).toBeNull();
    expect(
      httpAnswerOf(Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT' })),
    ).toBeNull();
  });

  it('knows no other error: a bug, answered 500', () => {
    expect(httpAnswerOf(new TypeError('x is undefined'))).toBeNull();
  });
});
