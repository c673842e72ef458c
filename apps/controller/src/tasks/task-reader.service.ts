import { Inject, Injectable } from '@nestjs/common';
import type { TaskList, TaskView } from '@warren/api';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { nameHosts } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import { ForbiddenError, TaskNotFoundError } from '../errors/errors';
import { TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import type { TaskListFilter } from '../store/task-list.filter';
import { CompletionNotifier } from './completion.notifier';
import { presentTask, presentTaskHead } from './task.presenter';

/** Longest a single `GET /v1/tasks/:id?waitMs=` is held, in ms. */
export const MAX_WAIT_MS = 120_000;

/**
 * ms; a held request reads the task again at least this often: the safety net should a wake-up
 * be lost (another controller stored the last result and its announcement never came).
 */
export const RECHECK_MS = 2_000;

/**
 * Reads tasks for a caller: one (optionally waiting for it to complete), or the recent ones,
 * within what the caller's token may see. A task with a host outside the token's patterns is
 * refused (403, audited); {@link TasksService} checks the same before a re-run.
 */
@Injectable()
export class TaskReader {
  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
  ) {}

  /** The whole task; with `waitMs`, held until it completes or that time passes. 403 when a host is outside the caller's patterns. */
  async get(id: string, caller: Caller, waitMs = 0, signal?: AbortSignal): Promise<TaskView> {
    let task = await this.store.getTask(id);
    if (!task) throw new TaskNotFoundError(id);
    await this.checkReadable(task.id, caller);
    if (task.state === 'running' && waitMs > 0)
      task = await this.heldUntilDone(id, Math.min(waitMs, MAX_WAIT_MS), signal);
    return presentTask(task, await this.store.getInvocations(id));
  }

  /**
   * The task once it completed, or as it stands after `ms` (or when `signal` aborts). It listens for
   * the completion before it reads the task again, so a completion committed between the caller's
   * read and this wait is not missed (with a store that does real I/O, that window is real); and
   * reads it again every {@link RECHECK_MS} regardless, so a lost wake-up only delays the answer.
   */
  private async heldUntilDone(id: string, ms: number, signal?: AbortSignal): Promise<TaskRecord> {
    const stop = new AbortController();
    const abort = () => stop.abort();
    signal?.addEventListener('abort', abort);
    try {
      for (let left = ms; ; left -= RECHECK_MS) {
        const completed = this.notifier.wait(id, Math.min(left, RECHECK_MS), stop.signal);
        const now = (await this.store.getTask(id))!;
        if (now.state !== 'running') return now;
        const woken = await completed;
        if (woken || left <= RECHECK_MS || stop.signal.aborted || this.notifier.closed)
          return (await this.store.getTask(id))!;
      }
    } finally {
      stop.abort();
      signal?.removeEventListener('abort', abort);
    }
  }

  /**
   * Holds until the task completes (it always does: every invocation has a deadline). Like
   * {@link heldUntilDone}, it listens for the completion before each read of the task: a completion
   * committed while the read is under way (a round trip, on PostgreSQL) would otherwise be missed
   * and the answer wait for the next re-read, a second later.
   */
  async waitForCompletion(id: string, caller: Caller, signal?: AbortSignal): Promise<TaskView> {
    while (!signal?.aborted && !this.notifier.closed) {
      const stop = new AbortController();
      const abort = () => stop.abort();
      signal?.addEventListener('abort', abort);
      try {
        const completed = this.notifier.wait(id, 1_000, stop.signal);
        const task = await this.store.getTask(id);
        if (!task) throw new TaskNotFoundError(id);
        if (task.state !== 'running') return presentTask(task, await this.store.getInvocations(id));
        await completed;
      } finally {
        stop.abort();
        signal?.removeEventListener('abort', abort);
      }
    }
    return this.get(id, caller);
  }

  /**
   * Recent tasks matching `filter`, newest first. A host-limited token sees only tasks whose every host is within
   * its patterns, chosen by the store (`listTasksWithin`) so that the cost follows the page.
   */
  async list(limit: number, caller: Caller, filter: TaskListFilter = {}): Promise<TaskList> {
    const scope = caller.principal.scope;
    const items = scope.unlimited
      ? await this.store.listTasks(limit, filter)
      : await this.store.listTasksWithin(limit, (h) => scope.allows(h), filter);
    return { tasks: items.map(({ task, counts }) => presentTaskHead(task, counts)) };
  }

  /**
   * 403 (audited as `task.read`, naming the hosts) when a host of the task is outside the caller's
   * token patterns; the answer names none of them.
   */
  async checkReadable(taskId: string, caller: Caller): Promise<void> {
    const who = caller.principal;
    if (who.scope.unlimited) return;
    const outside = who.scope.outside(await this.store.hostsOf(taskId));
    if (outside.length === 0) return;
    const reason = `task has hosts outside the token's patterns (${(who.hostPatterns ?? []).join(' ')})`;
    // The audit log (admins only) names them; the answer does not: the caller may not know they exist.
    await this.audit.record({
      actor: who.name,
      source: caller.source,
      action: 'task.read',
      decision: 'denied',
      reason: `${reason}: ${nameHosts(outside)}`,
      taskId,
      hosts: outside,
    });
    throw new ForbiddenError(`the token ${JSON.stringify(who.name)} may not read task ${taskId}: ${reason}`);
  }
}
