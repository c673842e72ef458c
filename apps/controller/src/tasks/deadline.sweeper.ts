import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { ControllerConfig } from '../config/controller.config';
import { type InvocationUpdate, TASK_STORE, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';

/**
 * The controller's own deadlines, kept in the store so they survive restarts: a command still
 * `pending` past its delivery timeout (+ grace) is `undelivered`; one `running` past its execution
 * timeout + kill grace (+ grace) is `lost`. So every task ends, whatever the agents do.
 */
@Injectable()
export class DeadlineSweeper implements OnModuleDestroy {
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'deadlines' });
  }

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.config.sweepIntervalMs);
  }

  /** Marks every overdue invocation; returns how many it marked. */
  sweep(now = Date.now()): number {
    let total = 0;
    for (;;) {
      const overdue = this.store.findOverdue(now, 1000);
      if (overdue.length === 0) return total;
      const updates: InvocationUpdate[] = overdue.map((o) =>
        o.state === 'pending'
          ? {
              kind: 'verdict',
              invocationId: o.invocationId,
              state: 'undelivered',
              reason: 'no agent took the command within its delivery timeout',
              at: now,
            }
          : {
              kind: 'verdict',
              invocationId: o.invocationId,
              state: 'lost',
              reason: 'the agent started the command but sent no result by its deadline (agent died or was cut off?)',
              at: now,
            },
      );
      const { completedTaskIds } = this.store.applyUpdates(updates, now);
      for (const o of overdue) {
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
      total += overdue.length;
      if (overdue.length < 1000) return total;
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
