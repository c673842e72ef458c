import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { ControllerConfig } from '../config/controller.config';
import { ResultsBacklog } from '../broker/results-backlog';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { STORE_RETRY } from '../results/results.consumer';
import { FailureLog } from '../core/failure-log';
import { CompletionNotifier } from './completion.notifier';

/**
 * The controller's own deadlines, kept in the store so they survive restarts: a command still
 * `pending` past its delivery timeout (+ grace) is `undelivered`; one `running` past its execution
 * timeout + kill grace (+ grace) is `lost`. So every task ends, whatever the agents do.
 *
 * `undelivered` here never outlives an agent's word: an agent publishes `started` and has it
 * confirmed before it spawns a command, so a command that may have run is `running` (then `lost`
 * at its deadline) once that reply is read, and a later `started`, result or restart report
 * replaces an `undelivered` guess (`store/sqlite-task.transitions.ts`).
 */
/** Why an overdue invocation got its verdict, as stored and shown. */
const VERDICT_REASONS = {
  pending: 'no agent took the command within its delivery timeout',
  running: 'the agent started the command but sent no result by its deadline (agent died or was cut off?)',
};

/**
 * Longest time, ms, the sweeper holds its verdicts while replies wait unread in the results queue
 * (see {@link DeadlineSweeper.tick}): past it, a controller that never catches up still ends its
 * tasks.
 */
export const BACKLOG_HOLD_MAX_MS = 60_000;

@Injectable()
export class DeadlineSweeper implements OnModuleDestroy {
  private timer: NodeJS.Timeout | null = null;
  /** the sweep under way, if any: ticks do not overlap, and shutdown waits for it */
  private sweeping: Promise<number> | null = null;
  private readonly log: Logger;
  /** while sweeps keep failing, one error line per 30 s, and one when they work again */
  private readonly failures: FailureLog;

  constructor(
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
    /** replies ready in the results queue and read by no controller yet (null: unknown) */
    @Inject(ResultsBacklog) private readonly backlog: Pick<ResultsBacklog, 'depth'>,
  ) {
    this.log = root.child({ component: 'deadlines' });
    this.failures = new FailureLog(clock, this.log, {
      failed: 'deadline sweep failed; no verdict until the store answers and held replies are stored',
      resumed: 'deadline sweeps resumed',
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.config.sweepIntervalMs);
  }

  /**
   * ms since epoch; no verdict before this. Replies read while the store was away wait in the
   * results queue and are stored within {@link STORE_RETRY}'s longest pause of its return; a
   * verdict given first would claim `lost` or `undelivered` for a command whose result is on its
   * way (the result would replace it, but a client may have read it). So after a failed sweep the
   * sweeper only probes the store (a read); from the first probe it answers, it waits that long
   * again before it judges anything.
   */
  private holdUntil = 0;
  /** a sweep failed and the store has not answered a probe since */
  private recovering = false;

  /** ms since epoch when the current backlog hold began; null while none */
  private heldSince: number | null = null;

  /**
   * Whether to hold this tick's verdicts: replies wait unread in the results queue (agents answer
   * faster than the controllers store), so the `started` or result of an invocation about to be
   * judged `undelivered` or `lost` may be among them, and the verdict would claim what did not
   * happen. Held for at most {@link BACKLOG_HOLD_MAX_MS} in a row; logged when a hold begins and ends.
   */
  private async heldByBacklog(): Promise<boolean> {
    const depth = await this.backlog.depth();
    const now = this.clock.now();
    if (depth !== null && depth > 0) {
      if (this.heldSince === null) {
        this.heldSince = now;
        this.log.warn(
          { backlog: depth, maxHoldMs: BACKLOG_HOLD_MAX_MS },
          'replies wait unread in the results queue: deadline verdicts held until they are stored',
        );
      }
      if (now - this.heldSince < BACKLOG_HOLD_MAX_MS) return true;
      return false;
    }
    if (this.heldSince !== null) {
      this.log.info({ heldMs: now - this.heldSince }, 'results queue read up: deadline verdicts resumed');
      this.heldSince = null;
    }
    return false;
  }

  /** the tick under way, from its first check to its end: ticks never overlap, and shutdown waits for it */
  private ticking: Promise<void> | null = null;
  /** set by {@link onModuleDestroy}: no sweep starts after it */
  private stopped = false;

  private tick(): Promise<void> {
    if (this.ticking || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.tickOnce().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async tickOnce(): Promise<void> {
    if (this.clock.now() < this.holdUntil) return;
    if (!this.recovering && (await this.heldByBacklog())) return;
    if (this.stopped) return;
    const probing = this.recovering;
    this.sweeping = probing ? this.store.findOverdue(this.clock.now(), 1).then(() => 0) : this.sweep();
    try {
      await this.sweeping;
      if (probing) {
        this.recovering = false;
        this.holdUntil = this.clock.now() + STORE_RETRY.maxMs + this.config.sweepIntervalMs;
      } else this.failures.succeeded();
    } catch (err) {
      this.recovering = true;
      this.failures.failed(err);
    } finally {
      this.sweeping = null;
    }
  }

  /**
   * Marks every invocation overdue at `now` (ms, default the clock's), 1,000 per transaction;
   * resolves with how many it marked. Several controllers sweeping one database claim disjoint
   * batches ({@link TaskStore.sweepOverdue}), so each verdict is applied and logged once.
   */
  async sweep(now = this.clock.now()): Promise<number> {
    let total = 0;
    for (;;) {
      const { swept, completedTaskIds } = await this.store.sweepOverdue(now, 1000, VERDICT_REASONS);
      if (swept.length === 0) return total;
      for (const o of swept) {
        this.log.warn(
          {
            taskId: o.taskId,
            host: o.host,
            correlationId: o.invocationId,
            state: o.state === 'pending' ? 'undelivered' : 'lost',
          },
          'invocation deadline passed',
        );
      }
      this.notifier.notify(completedTaskIds);
      total += swept.length;
      if (swept.length < 1000) return total;
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking?.catch(() => undefined);
    await this.sweeping?.catch(() => undefined);
  }
}
