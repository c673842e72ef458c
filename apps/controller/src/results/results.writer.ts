import { Inject, Injectable } from '@nestjs/common';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { type InvocationUpdate, TASK_STORE, type TaskStore } from '../store/task-store.port';
import { TaskChanges } from '../tasks/task-changes';

/**
 * Stores the believed replies of one batch in one transaction, stamped by the clock, and, once
 * the caller has acked them, tells the process what changed and what completed. Two steps, so
 * that the acks sit between them: after the commit, before anyone hears of it.
 */
@Injectable()
export class ResultsWriter {
  private readonly log: Logger;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly changes: TaskChanges,
    private readonly clock: Clock,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'results' });
  }

  /** Commits `updates`; resolves with the ids of the tasks they completed, rejects when nothing was stored. */
  async commit(updates: InvocationUpdate[]): Promise<string[]> {
    return (await this.store.applyUpdates(updates, this.clock.now())).completedTaskIds;
  }

  /** After the acks: `touched` tasks changed, `completed` ones are done. */
  announce(touched: Iterable<string>, completed: string[]): void {
    this.changes.committed(touched, completed);
    for (const taskId of completed) this.log.info({ taskId }, 'task completed');
  }
}
