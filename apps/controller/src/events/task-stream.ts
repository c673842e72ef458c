import {
  type InvocationState,
  isTerminal,
  type OutputMessage,
  type StartedMessage,
  type TaskState,
} from '@warren/protocol';
import type { EventNote } from './event-note';
import { type EventPosition, isAfter } from './event-id';

/**
 * Results a host's own outcome may replace (the store's rule: a `result` updates an invocation in
 * these states only when the command ran), so a `started` after one of them is a run, not a copy.
 */
const SUPERSEDED_BY_A_RUN: ReadonlySet<InvocationState> = new Set(['undelivered', 'lost', 'cancelled']);

/** The SSE event names of `GET /v1/tasks/:id/events`. */
export type TaskEventName = 'started' | 'output' | 'result' | 'completed';

/** What one message of the events stream says about tasks, once verified. */
export type StreamItem =
  | { kind: 'started'; message: StartedMessage }
  | { kind: 'output'; message: OutputMessage }
  | { kind: 'note'; note: EventNote };

/**
 * One event to send. `data` is null for `started` of a note (the start time is read from the
 * store), `result` (the stored outcome with its whole output) and `completed` (the summary): they
 * are rendered from the store when sent, and one whose record says there is nothing to tell (an
 * invocation that never started) is skipped, its id unused.
 */
export interface TaskEvent {
  at: EventPosition;
  event: TaskEventName;
  invocationId: string | null;
  data: Record<string, unknown> | null;
}

/** What the store holds of a task, for {@link TaskStream.unannounced}. */
export interface StoredTaskState {
  state: TaskState;
  invocations: { id: string; state: InvocationState }[];
}

/** What a note would have to say for the store and the stream to agree. */
export interface Unannounced {
  results: { invocationId: string; state: InvocationState }[];
  /** the task is done in the store and no `completed` was read since it last ran */
  completed: boolean;
}

/**
 * One task's events as read from the events stream, from the task's beginning: a pure function of
 * the messages fed to it, so every controller derives the same events with the same ids from the
 * same stream. A resume feeds the stream from the beginning too, and only the events past its
 * `Last-Event-ID` are returned: what was sent before is known exactly, so nothing is missed or
 * sent twice.
 *
 * Rules (as the per-controller logs had them): a `started` once per invocation; an `output` chunk
 * only with a `seq` above the last one of its invocation, and not after its result (a chunk that
 * arrives late or twice is dropped); a `result` per invocation and state a note names (so an
 * `undelivered` guess followed by the host's own outcome gives two, and a `started` in between lets
 * its chunks through again), preceded by a `started` when none was read; `completed` per note,
 * once a result was read for as many invocations as the note counts (held until then: two
 * controllers' notes reach the stream in either order).
 */
export class TaskStream {
  private readonly started = new Set<string>();
  private readonly lastSeq = new Map<string, number>();
  /** invocation → the state its last `result` announced */
  private readonly results = new Map<string, InvocationState>();
  /** a `completed` was read, and no `started` since (a task that runs again after completing can complete again) */
  private completed = false;
  /**
   * A `completed` read before a result for as many invocations as its note counted: it waits for
   * the missing results (another controller's note, behind in the stream) and goes out after them.
   */
  private held: { invocations: number } | null = null;
  /** the last {@link accept} gave a `completed` (sent, or at or before the resume point) */
  private gaveCompleted = false;

  /** A `completed` was given (sent or not), and no `started` since. */
  get done(): boolean {
    return this.completed;
  }

  /** Whether the last {@link accept} gave a `completed`, including one at or before the resume point (not returned). */
  get completedJustNow(): boolean {
    return this.gaveCompleted;
  }

  constructor(
    readonly taskId: string,
    /** events at or before this position were sent already; null: send everything */
    private readonly resumeAfter: EventPosition | null = null,
  ) {}

  /** Feeds the message at `offset`; returns the events it gives that follow the resume point. */
  accept(offset: number, item: StreamItem): TaskEvent[] {
    const out: TaskEvent[] = [];
    this.gaveCompleted = false;
    const emit = (event: TaskEventName, invocationId: string | null, data: Record<string, unknown> | null) => {
      const at = { offset, k: out.length };
      const e = { at, event, invocationId, data };
      out.push(e);
    };
    if (item.kind === 'started') {
      const m = item.message;
      if (m.taskId !== this.taskId) return [];
      // After a guessed result (`undelivered`, `lost`, `cancelled`: the store lets a host's own
      // outcome replace only those), a `started` means it ran after all: its chunks go through
      // again, and the task may complete again. After a real outcome it is a late copy.
      const prior = this.results.get(m.invocationId);
      if (this.started.has(m.invocationId) && (prior === undefined || !SUPERSEDED_BY_A_RUN.has(prior))) return [];
      this.started.add(m.invocationId);
      if (prior !== undefined) {
        this.results.delete(m.invocationId);
        this.completed = false;
        this.held = null;
      }
      emit('started', m.invocationId, { host: m.host, invocationId: m.invocationId, startedAt: iso(m.startedAt) });
    } else if (item.kind === 'output') {
      const m = item.message;
      if (m.taskId !== this.taskId || this.results.has(m.invocationId)) return [];
      if (m.seq <= (this.lastSeq.get(m.invocationId) ?? -1)) return [];
      this.lastSeq.set(m.invocationId, m.seq);
      const { host, invocationId, stream, seq, offset: at, data } = m;
      emit('output', invocationId, { host, invocationId, stream, seq, offset: at, data });
    } else {
      for (const r of item.note.results) {
        if (r.taskId !== this.taskId || this.results.get(r.invocationId) === r.state) continue;
        if (!this.started.has(r.invocationId)) {
          this.started.add(r.invocationId);
          emit('started', r.invocationId, null);
        }
        this.results.set(r.invocationId, r.state);
        emit('result', r.invocationId, null);
      }
      // Once per note: a second note about it (a repair, a duplicate) gives another, which a
      // session never reaches, having ended after the first. One that counts more invocations
      // than have a result waits for them (see `EventNote.completed`).
      const c = item.note.completed.find((x) => x.taskId === this.taskId);
      if (c) this.held = { invocations: c.invocations ?? 0 };
      if (this.held && this.results.size >= this.held.invocations) {
        this.held = null;
        this.completed = true;
        this.gaveCompleted = true;
        emit('completed', null, null);
      }
    }
    const after = this.resumeAfter;
    return after ? out.filter((e) => isAfter(e.at, after)) : out;
  }

  /**
   * Whether the store's counts (invocations per state, and the task's state) match what the notes
   * announced: then nothing is unannounced, and the store need not be read invocation by invocation.
   */
  agrees(stored: { state: TaskState; counts: Partial<Record<InvocationState, number>> }): boolean {
    const announced: Partial<Record<InvocationState, number>> = {};
    for (const state of this.results.values()) announced[state] = (announced[state] ?? 0) + 1;
    for (const [state, n] of Object.entries(stored.counts) as [InvocationState, number][])
      if (isTerminal(state) && announced[state] !== n) return false;
    for (const [state, n] of Object.entries(announced) as [InvocationState, number][])
      if ((stored.counts[state] ?? 0) !== n) return false;
    return stored.state === 'running' || this.completed;
  }

  /** What the store holds that no note read so far announced: terminal invocations and the task's completion. */
  unannounced(stored: StoredTaskState): Unannounced {
    const results = stored.invocations
      .filter((r) => isTerminal(r.state) && this.results.get(r.id) !== r.state)
      .map((r) => ({ invocationId: r.id, state: r.state }));
    return { results, completed: stored.state !== 'running' && !this.completed };
  }
}

function iso(ms: number | null | undefined): string | null {
  return typeof ms === 'number' ? new Date(ms).toISOString() : null;
}
