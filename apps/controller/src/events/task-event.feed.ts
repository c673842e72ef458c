import type { ConsumeMessage } from '@warren/amqp';
import type { InvocationState, TaskState } from '@warren/protocol';
import type { Logger } from 'pino';
import type { EventPosition } from './event-id';
import type { EventNote } from './event-note';
import { EventsStreamReader } from './events-stream.reader';
import type { StreamChannels } from './stream-channels';
import { type StoredTaskState, type StreamItem, type TaskEvent, TaskStream } from './task-stream';

/** What a feed needs from the controller (the store, the verifiers, the broker), one per controller. */
export interface FeedContext {
  channels: StreamChannels;
  /** the events stream's name */
  stream: string;
  /** The believed item of a stream message about `taskId`, or null (another task's, unverified, or of no interest). */
  decode(taskId: string, message: ConsumeMessage): Promise<StreamItem | null>;
  /** The task's state and its invocations' counts by state in the store, a cheap read (null: it is gone). */
  counts(taskId: string): Promise<{ state: TaskState; counts: Partial<Record<InvocationState, number>> } | null>;
  /** The task's state and each invocation's in the store (null: it is gone). */
  stored(taskId: string): Promise<StoredTaskState | null>;
  /** Publishes a note (a repair of one that never came). */
  publishNote(note: EventNote): void;
  logger: Logger;
  /** ms between store checks */
  checkMs: number;
  /** messages the broker may send ahead of a slow client */
  prefetch: number;
}

/** Where a feed's events go. */
export interface FeedSink {
  /** Sends these events (rendered from the store); resolves once written, after the client drained them. */
  deliver(events: TaskEvent[]): Promise<void>;
  /**
   * A message could not be checked (the store did not answer): the feed cannot go on without
   * skipping it, so the session ends, and the client's resume with `Last-Event-ID` reads it again.
   */
  fail(): void;
}

/** ms a repaired item is not repaired again, while its note comes back through the stream (or was lost too) */
const REPAIR_HOLD_MS = 10_000;

/**
 * One SSE session's events of one task: a reader of the events stream from the task's beginning
 * (`start`), the task's {@link TaskStream} (so every controller gives the same events and ids), and
 * a store check every `checkMs`.
 *
 * The check is the safety net for notes that never came: a controller that committed a change and
 * died before its note, or whose note was lost with the broker. What the store holds that no note
 * announced, at two checks in a row, is announced by this session: it publishes the note itself,
 * and the events come back through the stream with ids like any (a note seen
 * twice gives its events once). Notes of a task older than the stream's retention are gone too:
 * the same check announces what remains, so a late watcher still gets every result.
 */
export class TaskEventFeed {
  private readonly stream: TaskStream;
  private readonly reader: EventsStreamReader;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;
  /** keys of what the last check found unannounced */
  private suspects = new Set<string>();
  /** key → when this feed announced it */
  private readonly repaired = new Map<string, number>();

  constructor(
    private readonly ctx: FeedContext,
    private readonly taskId: string,
    /** where the task's events begin: the stream's first message at or after this time */
    from: Date,
    after: EventPosition | null,
    private readonly sink: FeedSink,
    private readonly now: () => number = Date.now,
  ) {
    this.stream = new TaskStream(taskId, after);
    this.reader = new EventsStreamReader({
      channels: ctx.channels,
      stream: ctx.stream,
      start: { time: from },
      prefetch: ctx.prefetch,
      handle: (offset, msg) => this.handle(offset, msg),
      logger: ctx.logger,
    });
  }

  start(): void {
    this.reader.start();
    void this.check();
    this.timer = setInterval(() => void this.check(), this.ctx.checkMs);
  }

  private async handle(offset: number, msg: ConsumeMessage): Promise<void> {
    if (this.closed) return;
    let item: StreamItem | null;
    try {
      item = await this.ctx.decode(this.taskId, msg);
    } catch (err) {
      this.ctx.logger.warn(
        { taskId: this.taskId, offset, err: (err as Error).message },
        'event not checked; ending the stream',
      );
      this.closed = true;
      return this.sink.fail();
    }
    if (!item || this.closed) return;
    const events = this.stream.accept(offset, item);
    if (events.length > 0) await this.sink.deliver(events);
  }

  /** Compares the store with what the stream announced; announces what stayed unannounced since the last check. */
  private async check(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      // Mostly the counts agree (the notes came): one cheap read, none of the stored output.
      const counts = await this.ctx.counts(this.taskId);
      if (!counts || this.closed) return;
      if (this.stream.agrees(counts)) {
        this.suspects.clear();
        return;
      }
      const stored = await this.ctx.stored(this.taskId);
      if (!stored || this.closed) return;
      const u = this.stream.unannounced(stored);
      const now = this.now();
      const found = new Map<string, () => void>();
      const note: EventNote = { v: 1, results: [], completed: [], repair: true };
      for (const r of u.results)
        found.set(`${r.invocationId}:${r.state}`, () => note.results.push({ taskId: this.taskId, ...r }));
      if (u.completed) found.set('completed', () => note.completed.push({ taskId: this.taskId }));
      for (const [key, add] of found) {
        const at = this.repaired.get(key);
        if (this.suspects.has(key) && (at === undefined || now - at > REPAIR_HOLD_MS)) {
          add();
          this.repaired.set(key, now);
        }
      }
      this.suspects = new Set(found.keys());
      if (note.results.length + note.completed.length > 0) {
        this.ctx.logger.info(
          { taskId: this.taskId, results: note.results.length, completed: note.completed.length > 0 },
          'announcing what the store holds and no events note said',
        );
        this.ctx.publishNote(note);
      }
    } catch (err) {
      this.ctx.logger.debug({ taskId: this.taskId, err: (err as Error).message }, 'events store check failed');
    } finally {
      this.checking = false;
    }
  }

  /** Stops reading and checking. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.reader.close();
  }
}
