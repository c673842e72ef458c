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

/**
 * A durable queue exists with another type than this process is configured to declare (RabbitMQ
 * answered 406 PRECONDITION_FAILED "inequivalent arg 'x-queue-type'"): the installation was started
 * with the other `--queue-type`. Nothing fixes itself: the connection keeps retrying, not ready,
 * until an operator switches the installation (docs/scaling.md, "Queue type: classic or quorum").
 */
export class QueueTypeMismatchError extends Error {
  override readonly name = 'QueueTypeMismatchError';

  constructor(
    /** the queue the broker refused to redeclare */
    readonly queue: string,
    /** its type on the broker: `classic` (also for a queue declared without `x-queue-type`), `quorum`, `stream` */
    readonly found: string,
    /** the type this process declared it with (`--queue-type`) */
    readonly configured: string,
  ) {
    super(
      `queue ${queue} exists as a ${found} queue, but this process declares it ${configured} (--queue-type ${configured}): every controller and agent of an installation needs the same --queue-type; to switch an installation see docs/scaling.md, "Queue type: classic or quorum"`,
    );
  }
}
