import type { ServerResponse } from 'node:http';
import type { EventPosition } from './event-id';
import type { TaskEventFeed } from './task-event.feed';
import type { SentEvent, TaskEvents } from './task-events.service';
import type { TaskEvent } from './task-stream';

/** ms between comment lines that keep idle proxies and clients from dropping the connection */
export const HEARTBEAT_MS = 15_000;
/** ms between checks that the stream's token is still valid: a revoked token's stream ends within this */
export const TOKEN_RECHECK_MS = 2_000;
/**
 * ms a session waits for the events stream (the broker) before it serves a done task from the
 * store alone ({@link TaskEvents.fromStore}) and ends; a running task's session waits on
 */
export const BROKER_WAIT_MS = 5_000;

/** One event in `text/event-stream` framing; JSON never holds a raw newline, so one `data:` line suffices. */
export function formatEvent(e: SentEvent): string {
  return `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * One client's `GET /v1/tasks/:id/events`: the task's events from its feed ({@link TaskEvents}),
 * those after `Last-Event-ID` only, then each as it comes, ending the response after `completed`.
 * A write waits for the socket to drain before the feed reads on, so a slow client holds back its
 * own reader of the stream and costs no more memory than the reader's prefetch. The feed ends with
 * the connection, and the stream ends within {@link TOKEN_RECHECK_MS} of its token being revoked.
 * A done task whose feed has not reached the events stream within {@link BROKER_WAIT_MS} is served
 * from the store and the response ends.
 */
export class SseSession {
  private feed: TaskEventFeed | null = null;
  private closed = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private brokerWait: NodeJS.Timeout | null = null;

  /**
   * `stillAllowed` is asked every `recheckMs` whether the caller's token still holds (not revoked);
   * on false, or if it throws, the stream ends (the client's reconnect then meets the 401).
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly events: TaskEvents,
    private readonly task: { id: string; createdAt: number },
    private readonly heartbeatMs = HEARTBEAT_MS,
    private readonly stillAllowed: () => Promise<boolean> = async () => true,
    private readonly recheckMs = TOKEN_RECHECK_MS,
    private readonly brokerWaitMs = BROKER_WAIT_MS,
  ) {}

  /** Sends the headers and starts the feed of the events after `after` (all of them when null). */
  start(after: EventPosition | null): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
    });
    this.res.socket?.setNoDelay(true);
    this.res.on('close', () => this.stop());
    // Tells EventSource clients how soon to reconnect; also sends the headers at once.
    this.res.write('retry: 1000\n\n');
    this.heartbeat = setInterval(() => this.res.write(': ping\n\n'), this.heartbeatMs);
    this.recheck = setInterval(() => void this.checkToken(), this.recheckMs);
    this.feed = this.events.feed(
      this.task.id,
      this.task.createdAt,
      after,
      { deliver: (events) => this.deliver(events), fail: () => this.stop(), end: () => this.stop() },
      () => this.stop(),
    );
    this.brokerWait = setTimeout(() => void this.serveFromStore(), this.brokerWaitMs);
  }

  /**
   * The feed never reached the events stream (the broker is away): a done task's events are all in
   * the store, so they are sent from there and the response ends, instead of heartbeats until the
   * broker returns. A store that fails leaves the session waiting on the feed.
   */
  private async serveFromStore(): Promise<void> {
    if (this.closed || this.feed?.reading) return;
    const sent = await this.events.fromStore(this.task.id).catch(() => null);
    // The feed may have reached the stream meanwhile: then it serves the events, with their ids.
    if (!sent || this.closed || this.feed?.reading) return;
    this.res.write(sent.map(formatEvent).join(''));
    this.stop();
  }

  /** Writes the events (rendered from the store); resolves once the client has taken them. */
  private async deliver(events: TaskEvent[]): Promise<void> {
    if (this.closed) return;
    let sent: SentEvent[];
    try {
      sent = await this.events.render(this.task.id, events);
    } catch {
      return this.stop(); // the store failed to render a result: end the stream, the client resumes with Last-Event-ID
    }
    if (this.closed || sent.length === 0) return;
    const ok = this.res.write(sent.map(formatEvent).join(''));
    if (sent[sent.length - 1].event === 'completed') return this.stop();
    if (!ok)
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off('drain', done).off('close', done);
          resolve();
        };
        this.res.on('drain', done).on('close', done);
      });
  }

  /** Ends the stream once the token no longer holds; a failed check ends it too (fail closed). */
  private async checkToken(): Promise<void> {
    const ok = await this.stillAllowed().catch(() => false);
    if (ok || this.closed) return;
    if (!this.res.writableEnded) this.res.write(': token no longer valid\n\n');
    this.stop();
  }

  private stop(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.recheck) clearInterval(this.recheck);
    if (this.brokerWait) clearTimeout(this.brokerWait);
    if (this.feed) void this.events.close(this.feed);
    if (!this.res.writableEnded) this.res.end();
  }
}
