import { Injectable } from '@nestjs/common';
import type { OutputMessage, StartedMessage } from '@warren/protocol';
import type { AppliedChange } from '../store/task-store.port';

/**
 * Announces what happens to tasks, to whoever listens, in process: `started` replies and live
 * output chunks from agents as they are read (verified: signed by the host's accepted key; chunks
 * are never stored, the result carries the whole output), every change the task store commits,
 * and a note each time stored invocations of a task change. {@link TaskEventLog} builds the SSE
 * stream on it; the metrics count the committed changes. It holds nothing: a listener that
 * subscribes late has missed what came before.
 */
@Injectable()
export class TaskActivityNotifier {
  private readonly outputListeners = new Set<(m: OutputMessage) => void>();
  private readonly startedListeners = new Set<(m: StartedMessage) => void>();
  private readonly appliedListeners = new Set<(changes: readonly AppliedChange[]) => void>();
  private readonly changeListeners = new Set<(taskIds: string[]) => void>();

  /** A live output chunk arrived (verified). */
  output(m: OutputMessage): void {
    for (const l of this.outputListeners) l(m);
  }

  /** A `started` reply arrived (verified), in order with the chunks that follow it. */
  started(m: StartedMessage): void {
    for (const l of this.startedListeners) l(m);
  }

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

  onOutput(l: (m: OutputMessage) => void): () => void {
    this.outputListeners.add(l);
    return () => this.outputListeners.delete(l);
  }

  onStarted(l: (m: StartedMessage) => void): () => void {
    this.startedListeners.add(l);
    return () => this.startedListeners.delete(l);
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
