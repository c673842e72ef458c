/** One Server-Sent Event as dispatched. */
export interface SseEvent {
  /** the last event id seen on the stream so far (ids persist across events, as the spec says) */
  id: string | undefined;
  /** `message` when the event named none */
  event: string;
  data: string;
}

/**
 * An incremental `text/event-stream` parser (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
 * feed it text as it arrives, split anywhere, and it calls `onEvent` for each complete event.
 * Lines end in LF, CR or CRLF; `:` lines are comments; multi-line `data` is joined with LF; an id
 * holding NUL is ignored; an event without data is not dispatched; `retry` is kept for reconnects.
 */
export class SseParser {
  private buffer = '';
  /** a CR ended the last chunk: an LF opening the next one belongs to it */
  private pendingCr = false;
  private data: string[] = [];
  private event = '';
  /** the stream's last event id, for `Last-Event-ID` on reconnect */
  lastEventId: string | undefined;
  /** ms the server asked clients to wait before reconnecting */
  retryMs: number | undefined;

  constructor(private readonly onEvent: (e: SseEvent) => void) {}

  feed(text: string): void {
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    let start = 0;
    for (;;) {
      const cr = this.buffer.indexOf('\r', start);
      const lf = this.buffer.indexOf('\n', start);
      if (cr < 0 && lf < 0) break;
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      this.line(this.buffer.slice(start, end));
      if (this.buffer[end] === '\r') {
        if (end + 1 === this.buffer.length) this.pendingCr = true;
        else if (this.buffer[end + 1] === '\n') {
          start = end + 2;
          continue;
        }
      }
      start = end + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
  }

  private dispatch(): void {
    const data = this.data;
    const event = this.event;
    this.data = [];
    this.event = '';
    if (data.length === 0) return;
    this.onEvent({ id: this.lastEventId, event: event || 'message', data: data.join('\n') });
  }
}
