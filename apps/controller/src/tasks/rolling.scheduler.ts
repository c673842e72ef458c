import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { FailureLog } from '../core/failure-log';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { DispatcherService } from './dispatcher.service';
import { nextRollingStep } from './rolling.policy';
import { TaskChanges } from './task-changes';

/**
 * Sends a rolling task's commands a few at a time. Every invocation is stored at creation,
 * unsent and without a deadline; each step (one SQLite transaction, {@link TaskStore.advanceRolling})
 * counts what is in flight and what failed, then claims the next hosts (giving them their delivery
 * deadline) or skips the rest once the error budget is spent. Steps run when a task is created,
 * whenever its stored invocations change (results), right after each dispatch (a host refused at
 * once frees its slot at once), and on a timer that also catches the deadline sweeper's verdicts
 * and resumes rolling tasks after a controller restart, since everything it needs is in the store.
 */
@Injectable()
export class RollingScheduler implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly log: Logger;
  /** while reads or steps keep failing (the store away, a tick every few hundred ms), one error line per 30 s */
  private readonly failures: FailureLog;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly dispatcher: DispatcherService,
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    private readonly changes: TaskChanges,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
  ) {
    this.log = root.child({ component: 'rolling' });
    this.failures = new FailureLog(clock, this.log, {
      failed: 'rolling tasks not advanced; retried on the next tick',
      resumed: 'rolling tasks advance again',
    });
  }

  onApplicationBootstrap(): void {
    this.unsubscribe = this.changes.onChanged((ids) => void this.advanceMany(ids));
    this.timer = setInterval(() => void this.resumeAll(), this.config.sweepIntervalMs);
  }

  /**
   * Takes as many steps as the task allows now: claims, publishes, and repeats while a publish
   * ended some invocations at once (unknown or untrusted hosts free their slot without running).
   */
  async advance(taskId: string): Promise<void> {
    for (let round = 0; round < 10_000; round++) {
      // Claiming while the broker is away would only turn the claimed hosts into `error`.
      if (!this.broker.connected) return;
      const task = await this.store.getTask(taskId);
      // Only a rolling task ever has unsent invocations; the others cost no transaction here.
      if (!task || task.state !== 'running' || task.concurrency == null) return;
      const now = this.clock.now();
      const step = await this.store.advanceRolling(
        taskId,
        nextRollingStep,
        now + task.deliveryTimeoutMs + this.config.deliveryGraceMs,
        now,
      );
      if (step.skipped > 0) {
        this.log.warn(
          { taskId, skipped: step.skipped, maxErrors: task.maxErrors },
          'error budget exhausted; the hosts not yet sent are skipped',
        );
        this.changes.committed([taskId], step.completed ? [taskId] : []);
      }
      if (step.claimed.length === 0) return;
      this.log.debug({ taskId, hosts: step.claimed.map((c) => c.host) }, 'rolling: sending the next hosts');
      await this.dispatcher.dispatch(task, step.claimed, now);
    }
  }

  /** Every rolling task with hosts left to send: catches verdicts nobody announced, and resumes after a restart. */
  private async resumeAll(): Promise<void> {
    let ids: string[];
    try {
      ids = await this.store.rollingTaskIds();
    } catch (err) {
      this.failures.failed(err, { step: 'read the rolling tasks' });
      return;
    }
    if (await this.advanceMany(ids)) this.failures.succeeded();
  }

  /** Advances each task; resolves with whether every step worked (a failed one is retried on the next tick). */
  private async advanceMany(taskIds: Iterable<string>): Promise<boolean> {
    let ok = true;
    for (const id of taskIds) {
      try {
        await this.advance(id);
      } catch (err) {
        ok = false;
        this.failures.failed(err, { taskId: id, step: 'advance' });
      }
    }
    return ok;
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unsubscribe?.();
  }
}
