/** The broker cannot be reached (not connected, or not within the allowed wait). */
export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
}

/** The broker refused a publish with `basic.nack` (e.g. an internal error or a full queue with reject-publish). */
export class PublishNackedError extends Error {
  override readonly name = 'PublishNackedError';
}

/** The connection or publisher was closed on purpose while the operation waited. */
export class ClosedError extends Error {
  override readonly name = 'ClosedError';
}
