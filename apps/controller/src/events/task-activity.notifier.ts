import { Injectable } from '@nestjs/common';
import type { AppliedChange } from '../store/task-store.port';

/**
 * Announces what happens to tasks, to whoever listens, in process: every change the task store
 * commits, and a note each time stored invocations of a task change (here or, relayed, on another
 * controller). The events notes, the metrics and the rolling scheduler listen. It holds nothing: a
 * listener that subscribes late has missed what came before.
 */
@Injectable()
export class TaskActivityNotifier {
  private readonly appliedListeners = new Set<(changes: readonly AppliedChange[]) => void>();
  private readonly changeListeners = new Set<(taskIds: string[]) => void>();

  /** The task store committed these changes (the store's report): told to `onApplied`, then as {@link changed}. */
  applied(changes: readonly AppliedChange[]): void {
    for (const l of this.appliedListeners) l(changes);
    this.changed(changes.map((c) => c.taskId));
  }

  /** Stored invocations of these tasks changed (started, result, verdict, cancel), after the commit. */
  changed(taskIds: Iterable<string>): void {
    const ids = [...new Set(taskIds)];
    if (ids.length === 0) return;
    for (const l of this.changeListeners) l(ids);
  }

  onApplied(l: (changes: readonly AppliedChange[]) => void): () => void {
    this.appliedListeners.add(l);
    return () => this.appliedListeners.delete(l);
  }

  onChanged(l: (taskIds: string[]) => void): () => void {
    this.changeListeners.add(l);
    return () => this.changeListeners.delete(l);
  }
}
