/** No task with this id. */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
  }
}

/** A request that passed validation but cannot be carried out as asked. */
export class UnprocessableTaskError extends Error {
  override readonly name = 'UnprocessableTaskError';
}

/** No valid API token: none sent, unknown, malformed or revoked (401, `WWW-Authenticate: Bearer`). */
export class UnauthenticatedError extends Error {
  override readonly name = 'Unauthorized';
}

/** The token is valid but may not do this: its role is too low, or a host is outside its patterns (403). */
export class ForbiddenError extends Error {
  override readonly name = 'Forbidden';
}

/** A query parameter that cannot be read (400), naming the parameter. */
export class BadQueryError extends Error {
  override readonly name = 'BadRequest';
}

export { BrokerUnavailableError } from '@warren/amqp';
