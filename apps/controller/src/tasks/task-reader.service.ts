import { Inject, Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { nameHosts } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import { ForbiddenError, TaskNotFoundError } from '../errors/errors';
import { DATABASE, type Db } from '../store/database';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';
import { presentTask, presentTaskHead } from './task.presenter';

/** Longest a single `GET /v1/tasks/:id?waitMs=` is held, in ms. */
export const MAX_WAIT_MS = 120_000;

/** Most recent tasks a host-limited token's `GET /v1/tasks` looks through for ones it may see. */
export const RESTRICTED_LIST_SCAN = 2_000;

/**
 * Reads tasks for a caller: one (optionally waiting for it to complete), or the recent ones,
 * within what the caller's token may see. A task with a host outside the token's patterns is
 * refused (403, audited); {@link TasksService} checks the same before a re-run.
 */
@Injectable()
export class TaskReader {
  private readonly hostsOfTask: Statement;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
    @Inject(DATABASE) db: Db,
  ) {
    // Only the hosts, not the rows with their output: a host-limited listing reads this per task.
    this.hostsOfTask = db.prepare(`SELECT host FROM invocations WHERE task_id = ?`).pluck();
  }

  /** The whole task; with `waitMs`, held until it completes or that time passes. 403 when a host is outside the caller's patterns. */
  async get(id: string, caller: Caller, waitMs = 0, signal?: AbortSignal) {
    let task = this.store.getTask(id);
    if (!task) throw new TaskNotFoundError(id);
    this.checkReadable(task.id, caller);
    if (task.state === 'running' && waitMs > 0) {
      await this.notifier.wait(id, Math.min(waitMs, MAX_WAIT_MS), signal);
      task = this.store.getTask(id)!;
    }
    return presentTask(task, this.store.getInvocations(id));
  }

  /** Holds until the task completes (it always does: every invocation has a deadline). */
  async waitForCompletion(id: string, caller: Caller, signal?: AbortSignal) {
    while (!signal?.aborted && !this.notifier.closed) {
      const task = this.store.getTask(id);
      if (!task) throw new TaskNotFoundError(id);
      if (task.state !== 'running') return presentTask(task, this.store.getInvocations(id));
      await this.notifier.wait(id, 1_000, signal);
    }
    return this.get(id, caller);
  }

  /**
   * Recent tasks, newest first. A host-limited token sees only tasks whose every host is within
   * its patterns, among the {@link RESTRICTED_LIST_SCAN} most recent.
   */
  list(limit: number, caller: Caller) {
    const scope = caller.principal.scope;
    if (scope.unlimited)
      return { tasks: this.store.listTasks(limit).map(({ task, counts }) => presentTaskHead(task, counts)) };
    const visible = (taskId: string) => scope.outside(this.hostsOfTask.all(taskId) as string[]).length === 0;
    // A first look at a few times the limit usually suffices; only a sparse scope reads further back.
    let items = this.store.listTasks(Math.min(RESTRICTED_LIST_SCAN, limit * 4)).filter(({ task }) => visible(task.id));
    if (items.length < limit) items = this.store.listTasks(RESTRICTED_LIST_SCAN).filter(({ task }) => visible(task.id));
    return { tasks: items.slice(0, limit).map(({ task, counts }) => presentTaskHead(task, counts)) };
  }

  /** 403 (audited as `task.read`) when a host of the task is outside the caller's token patterns. */
  checkReadable(taskId: string, caller: Caller): void {
    const who = caller.principal;
    if (who.scope.unlimited) return;
    const outside = who.scope.outside(this.hostsOfTask.all(taskId) as string[]);
    if (outside.length === 0) return;
    const reason = `task has hosts outside the token's patterns (${(who.hostPatterns ?? []).join(' ')}): ${nameHosts(outside)}`;
    this.audit.record({
      actor: who.name,
      source: caller.source,
      action: 'task.read',
      decision: 'denied',
      reason,
      taskId,
      hosts: outside,
    });
    throw new ForbiddenError(`the token ${JSON.stringify(who.name)} may not read task ${taskId}: ${reason}`);
  }
}
