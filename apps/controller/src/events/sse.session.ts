import type { ServerResponse } from 'node:http';
import type { LogSubscription, TaskEventLog } from './task-event.log';
import { parseEventId, type SentEvent } from './task-log';

/** ms between comment lines that keep idle proxies and clients from dropping the connection */
export const HEARTBEAT_MS = 15_000;
/** ms between checks that the stream's token is still valid: a revoked token's stream ends within this */
export const TOKEN_RECHECK_MS = 2_000;
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
 * slow client holds no more than one batch in memory. The subscription ends with the connection,
 * and the stream ends within {@link TOKEN_RECHECK_MS} of its token being revoked.
 */
export class SseSession {
  private sub: LogSubscription | null = null;
  private cursor = 0;
  private blocked = false;
  private closed = false;
  /** a pump is under way; `again`: something was logged meanwhile, pump once more */
  private pumping = false;
  private again = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;

  /**
   * `stillAllowed` is asked every `recheckMs` whether the caller's token still holds (not revoked);
   * on false, or if it throws, the stream ends (the client's reconnect then meets the 401).
   */
  constructor(
    private readonly res: ServerResponse,
    private readonly log: TaskEventLog,
    private readonly taskId: string,
    private readonly heartbeatMs = HEARTBEAT_MS,
    private readonly stillAllowed: () => Promise<boolean> = async () => true,
    private readonly recheckMs = TOKEN_RECHECK_MS,
  ) {}

  /** Sends the headers, then the log after `lastEventId`; resolves once the backlog is written (or the client left). */
  async start(lastEventId: string | undefined): Promise<void> {
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
    });
    this.res.socket?.setNoDelay(true);
    this.res.on('close', () => this.stop());
    const sub = await this.log.open(this.taskId, { wake: () => void this.pump(), shutdown: () => this.stop() });
    if (this.closed) return sub.close(); // the client left (or the controller is stopping) meanwhile
    this.sub = sub;
    const last = parseEventId(lastEventId);
    this.cursor = last && last.epoch === this.sub.epoch ? last.seq : 0;
    // Tells EventSource clients how soon to reconnect; also sends the headers at once.
    this.res.write('retry: 1000\n\n');
    this.heartbeat = setInterval(() => this.res.write(': ping\n\n'), this.heartbeatMs);
    this.recheck = setInterval(() => void this.checkToken(), this.recheckMs);
    await this.pump();
  }

  /** Writes what the log holds past the cursor; one pump at a time, so events go out in order. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        await this.write();
      } while (this.again && !this.closed);
    } catch {
      this.stop(); // the store failed to render a result: end the stream, the client resumes with Last-Event-ID
    } finally {
      this.pumping = false;
    }
  }

  private async write(): Promise<void> {
    while (!this.closed && !this.blocked && this.sub) {
      const entries = this.sub.after(this.cursor, BATCH);
      if (entries.length === 0) return;
      this.cursor = entries[entries.length - 1].seq;
      const events = await this.log.render(this.taskId, this.sub.epoch, entries);
      if (this.closed) return;
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
          void this.pump();
        });
      }
    }
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
    this.sub?.close();
    if (!this.res.writableEnded) this.res.end();
  }
}
