import type { ServerResponse } from 'node:http';
import type { LogSubscription, TaskEventLog } from './task-event.log';
import { parseEventId, type SentEvent } from './task-log';

/** ms between comment lines that keep idle proxies and clients from dropping the connection */
export const HEARTBEAT_MS = 15_000;
/** events rendered and written at a time: bounds the memory a slow client costs */
const BATCH = 32;

/** One event in `text/event-stream` framing; JSON never holds a raw newline, so one `data:` line suffices. */
export function formatEvent(e: SentEvent): string {
  return `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * One client's `GET /v1/tasks/:id/events`: a cursor over the task's log. It sends what follows
 * `Last-Event-ID` (everything when that id is of another epoch, or absent), then each event as it
 * is logged, and ends the response after `completed`. Writes wait for the socket to drain, so a
 * slow client holds no more than one batch in memory. The subscription ends with the connection.
 */
export class SseSession {
  private sub: LogSubscription | null = null;
  private cursor = 0;
  private blocked = false;
  private closed = false;
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly res: ServerResponse,
    private readonly log: TaskEventLog,
    private readonly taskId: string,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {}

  start(lastEventId: string | undefined): void {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
    });
    this.res.socket?.setNoDelay(true);
    this.res.on('close', () => this.stop());
    this.sub = this.log.open(this.taskId, { wake: () => this.pump(), shutdown: () => this.stop() });
    const last = parseEventId(lastEventId);
    this.cursor = last && last.epoch === this.sub.epoch ? last.seq : 0;
    // Tells EventSource clients how soon to reconnect; also sends the headers at once.
    this.res.write('retry: 1000\n\n');
    this.heartbeat = setInterval(() => this.res.write(': ping\n\n'), this.heartbeatMs);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && !this.blocked && this.sub) {
      const entries = this.sub.after(this.cursor, BATCH);
      if (entries.length === 0) return;
      this.cursor = entries[entries.length - 1].seq;
      const events = this.log.render(this.taskId, this.sub.epoch, entries);
      if (events.length === 0) continue;
      const ok = this.res.write(events.map(formatEvent).join(''));
      if (events[events.length - 1].event === 'completed' && this.sub.after(this.cursor, 1).length === 0) {
        this.res.end();
        return this.stop();
      }
      if (!ok) {
        this.blocked = true;
        this.res.once('drain', () => {
          this.blocked = false;
          this.pump();
        });
      }
    }
  }

  private stop(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.sub?.close();
    if (!this.res.writableEnded) this.res.end();
  }
}
