import { Inject, Injectable } from '@nestjs/common';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { ControllerConfig } from '../config/controller.config';
import { TooManyEventStreamsError } from '../errors/errors';

/** s; the `Retry-After` of a refused event stream: sessions end as tasks complete, within seconds to minutes */
export const EVENT_STREAM_RETRY_AFTER_SEC = 5;

/**
 * Counts the event streams (`GET /v1/tasks/:id/events`) this controller serves, up to
 * `--max-event-streams`: each holds a channel of the events connection (`StreamChannels`), and a
 * connection has at most `channel_max` (2,047 by default,
 * https://www.rabbitmq.com/docs/channels#channel-max). The count is read by `/metrics`
 * (`warren_event_streams`).
 */
@Injectable()
export class EventStreamSlots {
  /** the cap */
  readonly max: number;
  private active = 0;
  /** streams refused since start */
  refused = 0;
  /** the cap was met and logged; cleared once the count falls below 90% of it */
  private full = false;
  private readonly log: Logger;

  constructor(config: ControllerConfig, @Inject(ROOT_LOGGER) root: Logger) {
    this.max = config.maxEventStreams;
    this.log = root.child({ component: 'events' });
  }

  /** Event streams being served now. */
  get open(): number {
    return this.active;
  }

  /**
   * Takes a slot for one event stream; the returned function gives it back (once, however often it
   * is called).
   * @throws TooManyEventStreamsError when all `max` are taken (the request is answered 503)
   */
  take(): () => void {
    if (this.active >= this.max) {
      this.refused++;
      // One line each time the cap is met, not one per refusal: a crowd of clients would flood the log.
      if (!this.full)
        this.log.warn(
          { max: this.max, refusedSinceStart: this.refused },
          'event streams at --max-event-streams: refusing new ones (503)',
        );
      this.full = true;
      throw new TooManyEventStreamsError(this.max, EVENT_STREAM_RETRY_AFTER_SEC);
    }
    this.active++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.active--;
      if (this.active < this.max * 0.9) this.full = false;
    };
  }
}
