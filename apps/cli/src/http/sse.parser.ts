import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

/** One Server-Sent Event as dispatched. */
export interface SseEvent {
  /** the last event id seen on the stream so far (ids persist across events, as the spec says) */
  id: string | undefined;
  /** `message` when the event named none */
  event: string;
  data: string;
}

/**
 * An incremental `text/event-stream` reader: feed it text as it arrives, split anywhere, and it
 * calls `onEvent` for each complete event. The parsing (LF, CR or CRLF line ends, `:` comments,
 * multi-line data, events without data not dispatched) is eventsource-parser's; this adapter adds
 * what the CLI needs on top: the stream's last event id, which the library reports per event only,
 * kept for `Last-Event-ID` on reconnect.
 */
export class SseParser {
  /** the stream's last event id, for `Last-Event-ID` on reconnect */
  lastEventId: string | undefined;
  private readonly parser: EventSourceParser;

  constructor(onEvent: (e: SseEvent) => void) {
    this.parser = createParser({
      onEvent: (m: EventSourceMessage) => {
        if (m.id !== undefined) this.lastEventId = m.id;
        onEvent({ id: this.lastEventId, event: m.event ?? 'message', data: m.data });
      },
    });
  }

  /** Text as it arrives; an exception thrown by `onEvent` propagates from here. */
  feed(text: string): void {
    this.parser.feed(text);
  }
}
