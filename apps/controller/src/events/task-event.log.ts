import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { isTerminal, type OutputMessage, type StartedMessage } from '@warren/protocol';
import { Clock } from '@warren/runtime';
import { type InvocationRecord, type StateCounts, TASK_STORE, type TaskStore } from '../store/task-store.port';
import { presentInvocation } from '../tasks/task.presenter';
import { TaskActivityNotifier } from './task-activity.notifier';
import { type LoggedEvent, type LogWatcher, type SentEvent, TaskLog } from './task-log';

/** Bounds of the in-memory logs. */
export interface EventLogOptions {
  /** bytes of live output kept per task; its oldest chunks are dropped past this */
  maxTaskBytes: number;
  /** bytes of live output kept across all tasks; logs nobody watches are dropped first */
  maxTotalBytes: number;
  /** ms a log nobody watches is kept after its last activity */
  idleMs: number;
  /** ms between catch-ups of watched logs with the store, should a change have gone unannounced */
  refreshMs: number;
}

export const EVENT_LOG_DEFAULTS: EventLogOptions = {
  maxTaskBytes: 4 * 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  idleMs: 10 * 60_000,
  refreshMs: 2_000,
};
/** Injection token of partial {@link EventLogOptions} (tests); absent = the defaults. */
export const EVENT_LOG_OPTIONS = Symbol('EVENT_LOG_OPTIONS');

/** A watcher's handle on one task's log. */
export interface LogSubscription {
  /** this log's epoch: a `Last-Event-ID` of another epoch is from a log that no longer exists */
  readonly epoch: string;
  /** events after `seq`, in order, at most `limit` */
  after(seq: number, limit: number): LoggedEvent[];
  close(): void;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The per-task event logs behind `GET /v1/tasks/:id/events`: every task the controller hears
 * about gets a log of `started`, `output`, `result` and `completed` events, each with a stable id,
 * so that a client reconnecting with `Last-Event-ID` is sent exactly what came after it.
 *
 * `started` and `output` are appended as the replies arrive (in the order read, deduplicated by
 * invocation and chunk seq); `result` and `completed` from the store, after a commit: a log with
 * watchers catches up on the next tick, one without when someone opens it, since only order within
 * an invocation matters and a host's chunks always precede its result. A log that did not exist
 * (evicted, or the controller restarted) starts from the store, under a new epoch.
 *
 * Memory is bounded: live output per task and in total (the oldest chunks are dropped: the result
 * carries the whole output, and the client completes a stream from it by offset), and logs nobody
 * watches are dropped after `idleMs` or when space is needed.
 */
@Injectable()
export class TaskEventLog implements OnModuleDestroy {
  private readonly logs = new Map<string, TaskLog>();
  private total = 0;
  private readonly toSync = new Set<string>();
  private syncTimer: NodeJS.Immediate | null = null;
  private readonly sweeper: NodeJS.Timeout;
  private readonly refresher: NodeJS.Timeout;
  private readonly unlisten: (() => void)[];
  private readonly opts: EventLogOptions;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    events: TaskActivityNotifier,
    private readonly clock: Clock,
    @Optional() @Inject(EVENT_LOG_OPTIONS) opts?: Partial<EventLogOptions>,
  ) {
    this.opts = { ...EVENT_LOG_DEFAULTS, ...opts };
    this.unlisten = [
      events.onStarted((m) => this.onStarted(m)),
      events.onOutput((m) => this.onOutput(m)),
      events.onChanged((ids) => this.onChanged(ids)),
    ];
    this.sweeper = setInterval(() => this.sweep(this.clock.now()), Math.min(this.opts.idleMs, 60_000));
    this.sweeper.unref();
    this.refresher = setInterval(() => this.refresh(), this.opts.refreshMs);
    this.refresher.unref();
  }

  /** Output bytes held across all logs. */
  get heldBytes(): number {
    return this.total;
  }

  /** Tasks with a log in memory. */
  get size(): number {
    return this.logs.size;
  }

  /** Watches `taskId` (which must exist): its log, caught up with the store. */
  async open(taskId: string, watcher: LogWatcher): Promise<LogSubscription> {
    const log = this.ensure(taskId);
    // Watched before the catch-up's await: a log with no watcher may be dropped (idle sweep, room
    // for others) while the store answers, and the session would then hang on a dead log.
    log.watchers.add(watcher);
    try {
      if (log.dirty) await this.sync(taskId, log);
    } catch (err) {
      log.watchers.delete(watcher);
      throw err;
    }
    return {
      epoch: log.epoch,
      after: (seq, limit) => log.after(seq, limit),
      close: () => {
        log.watchers.delete(watcher);
        log.lastActive = this.clock.now();
      },
    };
  }

  /** The events as sent: ids, and `result` data read from the store (one read for all of them). */
  async render(taskId: string, epoch: string, entries: LoggedEvent[]): Promise<SentEvent[]> {
    let invocations: Map<string, InvocationRecord> | null = null;
    const out: SentEvent[] = [];
    for (const e of entries) {
      let data = e.data;
      if (e.event === 'result') {
        invocations ??= new Map((await this.store.getInvocations(taskId)).map((r) => [r.id, r]));
        const r = invocations.get(e.invocationId!);
        data = r ? presentInvocation(r) : null;
      }
      if (data) out.push({ id: `${epoch}.${e.seq}`, event: e.event, data });
    }
    return out;
  }

  private ensure(taskId: string): TaskLog {
    let log = this.logs.get(taskId);
    if (!log) this.logs.set(taskId, (log = new TaskLog(this.clock)));
    return log;
  }

  private onStarted(m: StartedMessage): void {
    const log = this.ensure(m.taskId);
    if (log.started.has(m.invocationId)) return;
    log.started.add(m.invocationId);
    // It ran after all (an `undelivered` guess logged before): let its chunks through.
    log.results.delete(m.invocationId);
    log.append('started', m.invocationId, { host: m.host, invocationId: m.invocationId, startedAt: iso(m.startedAt) });
    log.wake();
  }

  private onOutput(m: OutputMessage): void {
    const log = this.ensure(m.taskId);
    if (log.results.has(m.invocationId) || m.seq <= (log.lastSeq.get(m.invocationId) ?? -1)) return;
    log.lastSeq.set(m.invocationId, m.seq);
    // Roughly what the entry costs in memory: its text and a fixed overhead.
    const bytes = m.data.length + 128;
    log.append(
      'output',
      m.invocationId,
      { host: m.host, invocationId: m.invocationId, stream: m.stream, seq: m.seq, offset: m.offset, data: m.data },
      bytes,
    );
    this.total += bytes;
    if (log.bytes > this.opts.maxTaskBytes) this.total -= log.trim(Math.floor(this.opts.maxTaskBytes * 0.75));
    if (this.total > this.opts.maxTotalBytes) this.makeRoom();
    log.wake();
  }

  private onChanged(taskIds: string[]): void {
    for (const id of taskIds) {
      const log = this.logs.get(id);
      if (!log) continue; // a log opened later starts from the store
      log.dirty = true;
      if (log.watchers.size > 0) this.toSync.add(id);
    }
    // One store read per task per tick, however many commits touched it.
    if (this.toSync.size > 0 && !this.syncTimer) this.syncTimer = setImmediate(() => this.syncPending());
  }

  private syncPending(): void {
    this.syncTimer = null;
    const ids = [...this.toSync];
    this.toSync.clear();
    for (const id of ids) {
      const log = this.logs.get(id);
      if (log?.dirty) void this.sync(id, log);
    }
  }

  /**
   * Catches the log up with the store, after any catch-up of it under way, so that the entries
   * follow the store's order. Never rejects: a failed read leaves the log dirty for the next one.
   */
  private sync(taskId: string, log: TaskLog): Promise<void> {
    log.syncing = log.syncing.then(() =>
      this.catchUp(taskId, log).catch(() => {
        log.dirty = true;
      }),
    );
    return log.syncing;
  }

  /** Appends what the store holds and the log does not: started, results, and the task's completion. */
  private async catchUp(taskId: string, log: TaskLog): Promise<void> {
    log.dirty = false;
    const task = await this.store.getTask(taskId);
    if (!task) return;
    const invocations = await this.store.getInvocations(taskId);
    const before = log.entries.length;
    for (const r of invocations) {
      if (r.startedAt !== null && !log.started.has(r.id)) {
        log.started.add(r.id);
        log.append('started', r.id, { host: r.host, invocationId: r.id, startedAt: iso(r.startedAt) });
      }
      const mark = `${r.state}@${r.finishedAt}`;
      if (isTerminal(r.state) && log.results.get(r.id) !== mark) {
        log.results.set(r.id, mark);
        log.append('result', r.id, null);
      }
    }
    const done = `${task.state}@${task.finishedAt}`;
    if (task.state !== 'running' && log.completed !== done) {
      log.completed = done;
      const byState: StateCounts = {};
      for (const r of invocations) byState[r.state] = (byState[r.state] ?? 0) + 1;
      log.append('completed', null, {
        taskId,
        state: task.state,
        finishedAt: iso(task.finishedAt),
        summary: { total: task.hostCount, byState },
      });
    }
    if (log.entries.length > before) log.wake();
  }

  /** Frees output memory: logs nobody watches first (least recently active), then the largest logs' oldest chunks. */
  private makeRoom(): void {
    const target = Math.floor(this.opts.maxTotalBytes * 0.75);
    const idle = [...this.logs]
      .filter(([, l]) => l.watchers.size === 0)
      .sort(([, a], [, b]) => a.lastActive - b.lastActive);
    for (const [id, log] of idle) {
      if (this.total <= target) return;
      this.drop(id, log);
    }
    const watched = [...this.logs.values()].sort((a, b) => b.bytes - a.bytes);
    for (const log of watched) {
      if (this.total <= target) return;
      this.total -= log.trim(Math.floor(this.opts.maxTaskBytes / 4));
    }
  }

  /**
   * A watch never hangs on a change nobody announced: watched logs re-read the store now and then.
   * Completed ones too, since a task can run again (an agent reports it did start a command
   * already called `undelivered`); a watch of a completed task ends at once, so they are few.
   */
  private refresh(): void {
    for (const [id, log] of this.logs) if (log.watchers.size > 0) void this.sync(id, log);
  }

  private sweep(now: number): void {
    for (const [id, log] of this.logs)
      if (log.watchers.size === 0 && now - log.lastActive > this.opts.idleMs) this.drop(id, log);
  }

  private drop(id: string, log: TaskLog): void {
    this.logs.delete(id);
    this.total -= log.bytes;
  }

  /** Ends every watch (so the HTTP server can close) and stops the timers. */
  onModuleDestroy(): void {
    clearInterval(this.sweeper);
    clearInterval(this.refresher);
    if (this.syncTimer) clearImmediate(this.syncTimer);
    for (const off of this.unlisten) off();
    for (const log of this.logs.values()) for (const w of [...log.watchers]) w.shutdown();
  }
}
