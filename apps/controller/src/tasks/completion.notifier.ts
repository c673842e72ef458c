import { Injectable, type OnModuleDestroy } from '@nestjs/common';

/**
 * Wakes requests waiting for a task to complete (`wait: true`, `?waitMs=`), in this process; the
 * cluster relay tells other controllers on the same database through {@link onNotified}.
 */
@Injectable()
export class CompletionNotifier implements OnModuleDestroy {
  private readonly waiters = new Map<string, Set<(completed: boolean) => void>>();
  private readonly listeners = new Set<(taskIds: string[], relayed: boolean) => void>();
  /** set on shutdown: waits end at once, so held requests are answered and the server can close */
  closed = false;

  /** Resolves true when `taskId` completes, false after `timeoutMs` or when `signal` aborts. */
  wait(taskId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const done = (completed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set!.delete(wake);
        if (set!.size === 0 && this.waiters.get(taskId) === set) this.waiters.delete(taskId);
        resolve(completed);
      };
      const wake = (completed: boolean) => done(completed);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort);
      set.add(wake);
    });
  }

  /**
   * Called after a store transaction completed these tasks: wakes their waiters, then tells the
   * listeners. `relayed`: another controller committed it (heard through the cluster relay).
   */
  notify(taskIds: Iterable<string>, relayed = false): void {
    const ids = [...taskIds];
    if (ids.length === 0) return;
    for (const id of ids) for (const wake of [...(this.waiters.get(id) ?? [])]) wake(true);
    for (const l of this.listeners) l(ids, relayed);
  }

  /** Calls `listener` with the ids of every {@link notify}, and whether it was relayed; returns the unsubscribe. */
  onNotified(listener: (taskIds: string[], relayed: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Answers every held request with the task as it stands (still running). */
  onModuleDestroy(): void {
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake(false);
  }

  /** Requests waiting now, across all tasks. */
  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }
}
