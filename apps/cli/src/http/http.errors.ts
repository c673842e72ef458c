/**
 * The controller could not be talked to: connection refused, DNS failure, no answer in time, a
 * connection cut mid-answer, or an answer that is not the controller's JSON.
 */
export class ControllerUnreachableError extends Error {
  override readonly name = 'ControllerUnreachableError';
  constructor(
    /** the controller URL that was tried */
    readonly url: string,
    /** what went wrong, e.g. `connect ECONNREFUSED 127.0.0.1:7070` */
    readonly reason: string,
  ) {
    super(`cannot reach the controller at ${url}: ${reason}`);
  }
}

/** The controller answered with a non-2xx status; `messages` are its `message` field, one per line. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** the controller URL that answered */
    readonly url: string,
    /** HTTP status, e.g. 400, 404, 503 */
    readonly status: number,
    /** the API's `message` (a 400 names each bad field), never empty */
    readonly messages: string[],
    /** whether the request carried a token: a 401 without one needs different advice */
    readonly tokenSent = false,
    /** s; the answer's `Retry-After` (a 429, or an event stream's 503), when it had one */
    readonly retryAfterSec?: number,
  ) {
    super(messages.join('; '));
  }
}
