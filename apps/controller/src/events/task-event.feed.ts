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
  /** The task's state and each invocation's in the store, without output (null: it is gone). */
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
  /**
   * The task is done and its `completed` lies at or before the resume point (a `Last-Event-ID`
   * from its end, or beyond it: a made-up one, one from a stream deleted and declared again): there
   * is nothing more to send, so the session ends.
   */
  end(): void;
}

/**
 * One SSE session's events of one task: a reader of the events stream from the task's beginning
 * (`start`), the task's {@link TaskStream} (so every controller gives the same events and ids), and
 * a store check every `checkMs`.
 *
 * The check is the safety net for notes that never came: a controller that committed a change and
 * died before its note, or whose note was lost with the broker. What the store holds that no note
 * announced, at two checks in a row, is announced by this session: it publishes the note itself,
 * and the events come back through the stream with ids like any (a note seen twice gives its
 * events once). Notes of a task older than the stream's retention are gone too: the same check
 * announces what remains, so a late watcher still gets every result.
 *
 * What the reader has not read yet is not missing: a check counts only when the reader is at the
 * stream's tail (everything the broker sent is handled, no client drain awaited:
 * {@link EventsStreamReader.idle}) when it begins, and at the check before it too; a session
 * behind a slow client or a long replay reads nothing from the store and announces nothing. The
 * check reads counts, then, if they disagree, states (never output), and announces an item at most
 * once per {@link REPAIR_AGAIN_MS}: a repair the broker lost too (a nack, the stream's leader
 * failing over) is announced again, so that a done task's session still ends.
 *
 * A `completed` read at or before the resume point ends nothing by itself (the task may have run
 * again after it): the session ends at the second check in a row that finds the reader at the tail,
 * no `started` read since, and the store saying the task is done.
 */
/** ms before this feed announces an item again that it announced and still never read back */
export const REPAIR_AGAIN_MS = 30_000;

export class TaskEventFeed {
  private readonly stream: TaskStream;
  private readonly reader: EventsStreamReader;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;
  /** keys of what the last check found unannounced */
  private suspects = new Set<string>();
  /** when each item was last announced by this feed (ms since epoch): again only after {@link REPAIR_AGAIN_MS} */
  private readonly repaired = new Map<string, number>();
  /** a `completed` was read and not sent (at or before the resume point); idle checks since, in a row */
  private pastEnd = false;
  private pastEndChecks = 0;

  constructor(
    private readonly ctx: FeedContext,
    private readonly taskId: string,
    /** where the task's events begin: the stream's first message at or after this time */
    from: Date,
    after: EventPosition | null,
    private readonly sink: FeedSink,
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
    // Not ended here: a task that ran again after this `completed` may have more to send past the
    // resume point; the checks end the session once the reader is at the tail and nothing followed.
    if (this.stream.completedJustNow && !events.some((e) => e.event === 'completed')) this.pastEnd = true;
    if (events.some((e) => e.event === 'started')) this.pastEnd = false;
  }

  /**
   * A `completed` was read and not sent (at or before the resume point): ends the session if the
   * store says the task is done (or gone); one that runs again goes on.
   */
  private async endIfDone(): Promise<void> {
    let state: { state: TaskState } | null;
    try {
      state = await this.ctx.counts(this.taskId);
    } catch (err) {
      this.ctx.logger.warn(
        { taskId: this.taskId, err: (err as Error).message },
        'task state not read; ending the stream',
      );
      this.closed = true;
      return this.sink.fail();
    }
    if (this.closed || (state && state.state === 'running')) return;
    this.closed = true;
    this.sink.end();
  }

  /** Compares the store with what the stream announced; announces what stayed unannounced since the last check. */
  private async check(): Promise<void> {
    if (this.checking || this.closed) return;
    if (!this.reader.idle) {
      // Behind the tail: what looks unannounced may be a note not read yet.
      this.suspects.clear();
      this.pastEndChecks = 0;
      return;
    }
    // Past a done task's end: ended at the second idle check in a row with nothing read since that `completed`.
    if (this.pastEnd && this.stream.done) {
      if (++this.pastEndChecks >= 2) return this.endIfDone();
    } else this.pastEndChecks = 0;
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
      const found = new Map<string, () => void>();
      const note: EventNote = { v: 1, results: [], completed: [], repair: true };
      for (const r of u.results)
        found.set(`${r.invocationId}:${r.state}`, () => note.results.push({ taskId: this.taskId, ...r }));
      if (u.completed)
        found.set('completed', () =>
          note.completed.push({ taskId: this.taskId, invocations: stored.invocations.length }),
        );
      for (const [key, add] of found)
        if (this.suspects.has(key) && Date.now() - (this.repaired.get(key) ?? -Infinity) >= REPAIR_AGAIN_MS) {
          add();
          this.repaired.set(key, Date.now());
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

  /** Whether the reader has subscribed to the stream (the broker was there) since the feed started. */
  get reading(): boolean {
    return this.reader.everSubscribed;
  }

  /** Stops reading and checking. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.reader.close();
  }
}
