/**
 * The controller's domain errors, one small class each, `name` its class name. The HTTP status and
 * body of each are in the one table of `http-exception.filter.ts`; the command-line paths
 * (`warren-controller token …`, `migrate`, `db copy`) print their message.
 */

/** No task with this id (404). */
export class TaskNotFoundError extends Error {
  override readonly name = 'TaskNotFoundError';
  constructor(readonly taskId: string) {
    super(`task ${taskId} not found`);
  }
}

/** The task exists but has no invocation on this host (404). */
export class HostNotInTaskError extends Error {
  override readonly name = 'HostNotInTaskError';
  constructor(
    readonly taskId: string,
    readonly host: string,
  ) {
    super(`task ${taskId} has no host ${host}`);
  }
}

/** A request that passed validation but cannot be carried out as asked (422). */
export class UnprocessableTaskError extends Error {
  override readonly name = 'UnprocessableTaskError';
}

/** No valid API token: none sent, unknown, malformed or revoked (401, `WWW-Authenticate: Bearer`). */
export class UnauthenticatedError extends Error {
  override readonly name = 'UnauthenticatedError';
}

/** The token is valid but may not do this: its role is too low, or a host is outside its patterns (403). */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}

/** A request field, query parameter or header that cannot be read (400), the message naming it. */
export class BadQueryError extends Error {
  override readonly name = 'BadQueryError';
}

/**
 * A body or parameter the global `ValidationPipe` refused (400): `problems` names every bad field
 * (`command must be a string`), all of them, and is the body's `message` as the pipe gave it.
 */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

/** Nothing (or nothing unambiguous) to accept for a host: no pending key, or several (409). */
export class HostKeyError extends Error {
  override readonly name = 'HostKeyError';
}

/**
 * A task's file cannot be answered now (409): the task is not a get, the host did not succeed, or
 * its chunks are still arriving (`incomplete`, worth retrying) or do not match the hash reported.
 */
export class FileNotAvailableError extends Error {
  override readonly name = 'FileNotAvailableError';
}

/** A token command refused: a bad or taken name, no such token, already revoked. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
}

/** A request body that is not a JSON object the API can read: bad JSON, nested too deep, cut short (400). */
export class BadRequestBodyError extends Error {
  override readonly name = 'BadRequestBodyError';
}

/** A request body larger than the controller reads (413); the message gives the limit in bytes. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** A request body in a media type, charset or content encoding the API does not take (415). */
export class UnsupportedMediaTypeError extends Error {
  override readonly name = 'UnsupportedMediaTypeError';
}

/**
 * Too many failed authentications from the client's address (429, `Retry-After`): it is refused
 * until its bucket refills (`auth/auth-failure.limiter.ts`).
 */
export class TooManyRequestsError extends Error {
  override readonly name = 'TooManyRequestsError';
  constructor(
    /** s; when the client may try again, sent as `Retry-After` (RFC 9110 §10.2.3) */
    readonly retryAfterSec: number,
  ) {
    super(
      `too many failed authentications from this address: refused for ${retryAfterSec} s (Retry-After); check the token`,
    );
  }
}

/**
 * This controller already serves its `--max-event-streams` event streams (503, `Retry-After`):
 * each holds a broker channel, and past the cap they would exhaust the events connection's
 * `channel_max`. Another controller, or this one a little later, can serve the request.
 */
export class TooManyEventStreamsError extends Error {
  override readonly name = 'TooManyEventStreamsError';
  constructor(
    /** the cap, `--max-event-streams` */
    readonly max: number,
    /** s; when the client may try again, sent as `Retry-After` (RFC 9110 §10.2.3) */
    readonly retryAfterSec: number,
  ) {
    super(
      `this controller already serves ${max} event streams (--max-event-streams): try again in ${retryAfterSec} s (Retry-After), or through another controller`,
    );
  }
}

/**
 * The controller cannot use its database now (PostgreSQL unreachable or restarting, the SQLite
 * file busy or failing) (503): nothing this request would have stored was stored, and for
 * `POST /v1/tasks` nothing was sent. The cause is logged, never sent (it may name the server).
 */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
  constructor() {
    super('the controller cannot reach its database now; nothing was changed, try again shortly');
  }
}

/**
 * The database's `schema_migrations` holds a version above the newest this binary knows: a newer
 * warren-controller migrated it. Refused at start and by `migrate`, before anything is read or
 * written; the message is the one line printed.
 */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';
  constructor(
    /** the highest version recorded in the database */
    readonly version: number,
    /** the highest version this binary has a migration for */
    readonly known: number,
  ) {
    super(
      `database schema is at version ${version}, newer than this warren-controller knows (${known}): upgrade warren-controller, or point --db elsewhere`,
    );
  }
}

/** A SQLite file `db copy` will not read: not at the newest schema version (older, or from before versioned migrations). */
export class SchemaNotCurrentError extends Error {
  override readonly name = 'SchemaNotCurrentError';
  constructor(
    readonly path: string,
    /** its version (0: empty, or a file from before versioned migrations) */
    readonly version: number,
    readonly known: number,
  ) {
    super(`${path} is at schema version ${version}, not ${known}: run warren-controller migrate --db ${path} first`);
  }
}

/** One migration's SQL failed: its transaction was rolled back, the database stays at the version before it. */
export class MigrationFailedError extends Error {
  override readonly name = 'MigrationFailedError';
  constructor(
    /** `0002_name` */
    readonly migration: string,
    override readonly cause: unknown,
  ) {
    super(
      `migration ${migration} failed, nothing of it applied: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

/** `db copy` into a PostgreSQL database whose Warren tables already hold rows (nothing was copied). */
export class CopyTargetNotEmptyError extends Error {
  override readonly name = 'CopyTargetNotEmptyError';
  constructor(readonly tables: string[]) {
    super(
      `the target database already holds rows in ${tables.join(', ')}: db copy fills only an empty Warren database (nothing copied)`,
    );
  }
}

export { BrokerUnavailableError } from '@warren/amqp';
