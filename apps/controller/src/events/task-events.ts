import { Injectable } from '@nestjs/common';
import type { OutputMessage, StartedMessage } from '@warren/protocol';

/**
 * The seam between what the controller hears and who watches a task live: `started` replies and
 * live output chunks from agents as they are read (verified: signed by the host's accepted key;
 * chunks are never stored, the result carries the whole output), and a note each time stored
 * invocations of a task change. {@link TaskEventLog} builds the SSE stream on it.
 */
@Injectable()
export class TaskEvents {
  private readonly outputListeners = new Set<(m: OutputMessage) => void>();
  private readonly startedListeners = new Set<(m: StartedMessage) => void>();
  private readonly changeListeners = new Set<(taskIds: string[]) => void>();

  /** A live output chunk arrived (verified). */
  output(m: OutputMessage): void {
    for (const l of this.outputListeners) l(m);
  }

  /** A `started` reply arrived (verified), in order with the chunks that follow it. */
  started(m: StartedMessage): void {
    for (const l of this.startedListeners) l(m);
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

  onChanged(l: (taskIds: string[]) => void): () => void {
    this.changeListeners.add(l);
    return () => this.changeListeners.delete(l);
  }
}
