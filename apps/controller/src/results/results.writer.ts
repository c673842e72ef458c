import { Inject, Injectable } from '@nestjs/common';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { type InvocationUpdate, TASK_STORE, type TaskStore } from '../store/task-store.port';
import { TaskChanges } from '../tasks/task-changes';

/**
 * Stores the believed replies of one batch in one transaction, stamped by the clock, then, once
 * the caller has acked them, wakes whoever waits for the tasks that completed (held `GET`s,
 * rolling runs). The acks always come after the commit. The store itself reports each commit to
 * the activity notifier as it happens (metrics, events notes): those listeners may hear of a
 * change before the acks, which is harmless, since they only read what is committed.
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
