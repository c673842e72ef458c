import { Injectable } from '@nestjs/common';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { CompletionNotifier } from './completion.notifier';

/**
 * The in-process news after a store commit, told in one order everywhere: first which tasks'
 * invocations changed (to the rolling scheduler and the events notes), then which tasks
 * completed (waking the requests that wait for them). Subscribing to the first is here too, so
 * that the rolling scheduler hears what it is told.
 */
@Injectable()
export class TaskChanges {
  constructor(
    private readonly activity: TaskActivityNotifier,
    private readonly completion: CompletionNotifier,
  ) {}

  /** After a commit: `changed` tasks told to listeners, then waiters of `completed` tasks woken. */
  committed(changed: Iterable<string>, completed: Iterable<string>): void {
    this.activity.changed(changed);
    this.completion.notify(completed);
  }

  /** Calls `listener` with the ids of tasks whose invocations changed; returns the unsubscribe. */
  onChanged(listener: (taskIds: string[]) => void): () => void {
    return this.activity.onChanged(listener);
  }
}
