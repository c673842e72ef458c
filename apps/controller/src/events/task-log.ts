import { randomBytes } from 'node:crypto';
import type { Clock } from '@warren/runtime';

/** The SSE event names of `GET /v1/tasks/:id/events`. */
export type TaskEventName = 'started' | 'output' | 'result' | 'completed';

/** One event as a task's log records it. */
export interface LoggedEvent {
  /** per log, from 1, increasing */
  seq: number;
  event: TaskEventName;
  invocationId: string | null;
  /**
   * The event's data; null for `result`, which is read from the store when sent: the store holds
   * the whole output, so the log keeps no second copy of it.
   */
  data: Record<string, unknown> | null;
  /** bytes counted against the bounds (live output only) */
  bytes: number;
}

/** One event as sent: its SSE id (`<epoch>.<seq>`), name and data. */
export interface SentEvent {
  id: string;
  event: TaskEventName;
  data: Record<string, unknown>;
}

/** Who watches a log: woken when events are appended, told when the controller shuts down. */
export interface LogWatcher {
  wake(): void;
  shutdown(): void;
}

/** `<epoch>.<seq>` → its parts; null for anything else (then the whole log is sent). */
export function parseEventId(id: string | undefined): { epoch: string; seq: number } | null {
  const m = /^([0-9a-f]{8})\.(\d{1,15})$/.exec(id?.trim() ?? '');
  return m ? { epoch: m[1], seq: Number(m[2]) } : null;
}

/** One task's events, in the order the controller heard them. */
export class TaskLog {
  readonly epoch = randomBytes(4).toString('hex');
  entries: LoggedEvent[] = [];
  private nextSeq = 1;
  /** output bytes held */
  bytes = 0;
  /** invocations whose `started` is logged */
  readonly started = new Set<string>();
  /** invocation → highest output seq logged: a redelivered or stale chunk is dropped */
  readonly lastSeq = new Map<string, number>();
  /** invocation → `state@finishedAt` of its last logged result */
  readonly results = new Map<string, string>();
  /** `state@finishedAt` of the last logged `completed` */
  completed: string | null = null;
  /** the store may hold changes the log has not caught up with */
  dirty = true;
  /** ms since the epoch, by the clock: when an event was last appended or read */
  lastActive: number;
  /** the catch-up with the store under way: catch-ups of one log run one after the other */
  syncing: Promise<void> = Promise.resolve();
  readonly watchers = new Set<LogWatcher>();

  constructor(private readonly clock: Clock) {
    this.lastActive = clock.now();
  }

  append(event: TaskEventName, invocationId: string | null, data: Record<string, unknown> | null, bytes = 0): void {
    this.entries.push({ seq: this.nextSeq++, event, invocationId, data, bytes });
    this.bytes += bytes;
    this.lastActive = this.clock.now();
  }

  after(seq: number, limit: number): LoggedEvent[] {
    // Binary search: seqs increase, though dropped chunks leave holes.
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(lo, lo + limit);
  }

  /** Drops the oldest output chunks until at most `target` bytes are held; returns the bytes freed. */
  trim(target: number): number {
    if (this.bytes <= target) return 0;
    const before = this.bytes;
    this.entries = this.entries.filter((e) => {
      if (e.event !== 'output' || this.bytes <= target) return true;
      this.bytes -= e.bytes;
      return false;
    });
    return before - this.bytes;
  }

  wake(): void {
    for (const w of this.watchers) w.wake();
  }
}
