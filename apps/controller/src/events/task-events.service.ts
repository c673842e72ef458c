import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { ConsumeMessage } from '@warren/amqp';
import {
  eventNotesExchange,
  eventsStream,
  isTerminal,
  type OutputMessage,
  repliesExchange,
  type StartedMessage,
} from '@warren/protocol';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { ControllerConfig } from '../config/controller.config';
import { ReplyVerifier } from '../results/reply.verifier';
import { type StateCounts, TASK_STORE, type TaskStore } from '../store/task-store.port';
import { presentInvocation } from '../tasks/task.presenter';
import { type EventPosition, renderEventId } from './event-id';
import { decodeNote, type EventNote, MAX_NOTE_ENTRIES } from './event-note';
import { NotePublisher } from './note.publisher';
import { StreamChannels } from './stream-channels';
import { type FeedContext, type FeedSink, TaskEventFeed } from './task-event.feed';
import type { StreamItem, TaskEvent, TaskEventName } from './task-stream';

/** One event as sent: its SSE id (`<offset>-<k>`), name and data. */
export interface SentEvent {
  id: string;
  event: TaskEventName;
  data: Record<string, unknown>;
}

/** Tuning of the event feeds; the defaults suit production, tests shorten them. */
export interface TaskEventsOptions {
  /** ms between a feed's store checks (and so the wait before it announces what no note did) */
  checkMs: number;
  /**
   * ms a feed starts reading the stream before the task's creation time: the stream's times are
   * the broker's clock, the task's the controller's, so this is the clock skew tolerated
   */
  startSlackMs: number;
  /** stream messages the broker may send one feed ahead of its client */
  prefetch: number;
}

export const TASK_EVENTS_DEFAULTS: TaskEventsOptions = { checkMs: 2_000, startSlackMs: 5_000, prefetch: 64 };
/** Injection token of partial {@link TaskEventsOptions} (tests); absent = the defaults. */
export const TASK_EVENTS_OPTIONS = Symbol('TASK_EVENTS_OPTIONS');

/** replies whose check is remembered: at most 16 KiB each (an output chunk's text), so 16 MiB at worst */
const CHECKED_KEPT = 1_024;

/**
 * Prefix of the ids of events read from the store alone ({@link TaskEvents.fromStore}): the form
 * of the per-controller logs' ids, `<8 hex>.<seq>`, which a resume reads as "from the beginning".
 */
export const STORE_ID_PREFIX = '00000000.';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The events of `GET /v1/tasks/:id/events`, read from the events stream `<ns>.events` (every agent
 * reply, copied there by the broker, and the controllers' notes): one {@link TaskEventFeed} per
 * SSE session, each a consumer of the stream from its task's beginning, so that any controller
 * serves any task, and a `Last-Event-ID` from one is understood by all. docs/streaming.md says why
 * one consumer per session rather than one per controller, and what it costs.
 *
 * A stream message counts only when it is what it claims: an agent reply came through the replies
 * exchange and is believed as the results consumer believes it ({@link ReplyVerifier}: signed by
 * the host's accepted key, and about that host's own invocation); a note came through the notes
 * exchange, which only controllers may write to. `result` and `completed` are rendered from the
 * store when sent (the authority, with the whole output).
 */
@Injectable()
export class TaskEvents implements OnModuleDestroy {
  private readonly opts: TaskEventsOptions;
  private readonly ctx: FeedContext;
  private readonly open = new Map<TaskEventFeed, () => void>();
  /**
   * Stream offset → the reply checked there (null: nothing to believe), shared by this
   * controller's feeds: N clients watching one task cost one signature check per message, not N.
   */
  private readonly checked = new Map<number, Promise<StartedMessage | OutputMessage | null>>();
  private readonly replies: string;
  private readonly notes: string;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly verifier: ReplyVerifier,
    channels: StreamChannels,
    private readonly publisher: NotePublisher,
    config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
    @Optional() @Inject(TASK_EVENTS_OPTIONS) opts?: Partial<TaskEventsOptions>,
  ) {
    this.opts = { ...TASK_EVENTS_DEFAULTS, ...opts };
    this.replies = repliesExchange(config.namespace);
    this.notes = eventNotesExchange(config.namespace);
    this.ctx = {
      channels,
      stream: eventsStream(config.namespace),
      decode: (taskId, msg) => this.decode(taskId, msg),
      counts: async (taskId) => {
        const task = await this.store.getTask(taskId);
        return task && { state: task.state, counts: await this.store.countByState(taskId) };
      },
      stored: async (taskId) => {
        const task = await this.store.getTask(taskId);
        if (!task) return null;
        return { state: task.state, invocations: await this.store.invocationStates(taskId) };
      },
      publishNote: (note) => this.publishSplit(note),
      logger: root.child({ component: 'events' }),
      checkMs: this.opts.checkMs,
      prefetch: this.opts.prefetch,
    };
  }

  /**
   * Starts the events of task `taskId` (created at `createdAt`, ms) for one session: `sink` gets
   * them in order, those after `after` only; `shutdown` is called if the controller stops first.
   */
  feed(
    taskId: string,
    createdAt: number,
    after: EventPosition | null,
    sink: FeedSink,
    shutdown: () => void,
  ): TaskEventFeed {
    const from = new Date(createdAt - this.opts.startSlackMs);
    const feed = new TaskEventFeed(this.ctx, taskId, from, after, sink);
    this.open.set(feed, shutdown);
    feed.start();
    return feed;
  }

  /** Stops a feed (its session ended). */
  async close(feed: TaskEventFeed): Promise<void> {
    this.open.delete(feed);
    await feed.close();
  }

  /** Feeds open now. */
  get size(): number {
    return this.open.size;
  }

  private async decode(taskId: string, msg: ConsumeMessage): Promise<StreamItem | null> {
    // Most messages are other tasks': skip them before any parsing or signature check.
    if (!msg.content.includes(`"${taskId}"`)) return null;
    if (msg.fields.exchange === this.notes) {
      const d = decodeNote(msg.content);
      return d.ok ? { kind: 'note', note: d.note } : null;
    }
    if (msg.fields.exchange !== this.replies) return null;
    const offset = Number(msg.properties.headers?.['x-stream-offset']);
    let checked = this.checked.get(offset);
    if (!checked) {
      checked = this.check(msg);
      this.checked.set(offset, checked);
      // A failed check (the store did not answer) is not remembered: the next feed tries again.
      checked.catch(() => this.checked.delete(offset));
      if (this.checked.size > CHECKED_KEPT) this.checked.delete(this.checked.keys().next().value as number);
    }
    const m = await checked;
    if (!m || m.taskId !== taskId) return null;
    return m.kind === 'started' ? { kind: 'started', message: m } : { kind: 'output', message: m };
  }

  /** The `started` or `output` reply `msg` holds, if believed and about its host's own invocation. */
  private async check(msg: ConsumeMessage): Promise<StartedMessage | OutputMessage | null> {
    const m = this.verifier.believe(msg.content, msg.properties.headers as Record<string, unknown> | undefined);
    if (!m || (m.kind !== 'started' && m.kind !== 'output')) return null;
    return (await this.verifier.owns(m)) ? m : null;
  }

  private publishSplit(note: EventNote): void {
    for (let i = 0; i < note.results.length; i += MAX_NOTE_ENTRIES)
      this.publisher.publish({ ...note, results: note.results.slice(i, i + MAX_NOTE_ENTRIES), completed: [] });
    if (note.completed.length > 0) this.publisher.publish({ ...note, results: [], completed: note.completed });
  }

  /**
   * The events as sent: ids from their positions; `started` of a note and `result` read from the
   * store (one read of the invocations the batch names, with their output), `completed` from the
   * task and its counts by state (no output). One whose record has nothing to tell is skipped: an
   * invocation that never started, a result the store does not hold as terminal, a completion of
   * a task that runs again.
   */
  async render(taskId: string, events: TaskEvent[]): Promise<SentEvent[]> {
    const ids = events.filter((e) => e.data === null && e.invocationId !== null).map((e) => e.invocationId!);
    const invocations = new Map(
      (ids.length > 0 ? await this.store.getInvocationsByIds(taskId, ids) : []).map((r) => [r.id, r]),
    );
    const completes = events.some((e) => e.event === 'completed');
    const task = completes ? await this.store.getTask(taskId) : null;
    const byState: StateCounts | null = task && task.state !== 'running' ? await this.store.countByState(taskId) : null;
    const out: SentEvent[] = [];
    for (const e of events) {
      let data = e.data;
      if (data === null && e.event !== 'completed') {
        const r = invocations.get(e.invocationId!);
        if (e.event === 'started')
          data = r?.startedAt != null ? { host: r.host, invocationId: r.id, startedAt: iso(r.startedAt) } : null;
        else data = r && isTerminal(r.state) ? presentInvocation(r) : null;
      } else if (e.event === 'completed') {
        if (task && byState) {
          data = {
            taskId,
            state: task.state,
            finishedAt: iso(task.finishedAt),
            summary: { total: task.hostCount, byState },
          };
        }
      }
      if (data) out.push({ id: renderEventId(e.at), event: e.event, data });
    }
    return out;
  }

  /**
   * The whole of a done task's events from the store alone, for a session that cannot read the
   * events stream (the broker is away): each started invocation's `started` and `result` (with its
   * whole output), in host order, then `completed`; null while the task runs (or is gone). Their
   * ids are of the form `00000000.<n>`, which a later `Last-Event-ID` resume on any controller
   * treats as "from the beginning" (as the per-controller logs' ids were): the client's rule drops
   * what it printed already. No `output` events: the results hold the whole output.
   */
  async fromStore(taskId: string): Promise<SentEvent[] | null> {
    const task = await this.store.getTask(taskId);
    if (!task || task.state === 'running') return null;
    const rows = await this.store.getInvocations(taskId);
    const out: { event: TaskEventName; data: Record<string, unknown> }[] = [];
    const byState: StateCounts = {};
    for (const r of rows) {
      byState[r.state] = (byState[r.state] ?? 0) + 1;
      if (r.startedAt != null)
        out.push({ event: 'started', data: { host: r.host, invocationId: r.id, startedAt: iso(r.startedAt) } });
      if (isTerminal(r.state)) out.push({ event: 'result', data: presentInvocation(r) });
    }
    const summary = { total: task.hostCount, byState };
    out.push({ event: 'completed', data: { taskId, state: task.state, finishedAt: iso(task.finishedAt), summary } });
    return out.map((e, n) => ({ id: `${STORE_ID_PREFIX}${n + 1}`, ...e }));
  }

  /** Ends every session (so the HTTP server can close) and stops their feeds. */
  onModuleDestroy(): void {
    for (const shutdown of [...this.open.values()]) shutdown();
  }
}
