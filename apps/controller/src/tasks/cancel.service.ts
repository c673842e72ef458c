import { Inject, Injectable } from '@nestjs/common';
import type { TaskState } from '@warren/protocol';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { nameHosts } from '../auth/host-patterns';
import { ForbiddenError, TaskNotFoundError, UnprocessableTaskError } from '../errors/errors';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { CommandPublisher } from './command.publisher';
import { CommandTrust } from './command-trust';
import { type CancelRequester, TaskAudit } from './task-audit.service';
import { TaskChanges } from './task-changes';

/** What a cancel did. */
export interface CancelOutcome {
  id: string;
  /** invocations that had not started: `cancelled` now, and they never run */
  cancelled: string[];
  /** hosts whose running command is being killed; they report `cancelled` when it is gone */
  killing: string[];
  /** the task's state after the cancel */
  state: TaskState;
}

/**
 * Cancels a task, or some of its hosts. A host-limited token may cancel only a task it may read
 * (every host of the task within its patterns), and then any of its hosts; otherwise 403, audited,
 * the answer naming no host outside the patterns. Pending invocations become `cancelled` at once in the
 * store (the controller has not read a `started`, which agents publish and have confirmed before
 * the spawn: if one is on its way, it makes the invocation `running` again and the agent's own
 * report of the kill ends it; so a command that may have run is never left "cancelled before it
 * started"); every host with a pending or running invocation gets a signed cancel ({@link CommandPublisher})
 * on the control exchange, a queue the agent reads before its inbox (also after being offline): a running command
 * is killed with its whole process group, a queued one never starts. A cancel names the host's accepted key,
 * as a command does; a host that has none now (its commands were addressed to a key since removed) is sent none.
 */
@Injectable()
export class CancelService {
  private readonly log: Logger;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly publisher: CommandPublisher,
    private readonly trust: CommandTrust,
    private readonly changes: TaskChanges,
    private readonly audit: TaskAudit,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
  ) {
    this.log = root.child({ component: 'cancel' });
  }

  async cancel(taskId: string, hosts: string[] | undefined, who: CancelRequester): Promise<CancelOutcome> {
    const task = await this.store.getTask(taskId);
    if (!task) throw new TaskNotFoundError(taskId);
    const invocations = await this.store.getInvocations(taskId);
    const targets = hosts && hosts.length > 0 ? hosts : invocations.map((r) => r.host);
    const subject = { taskId, command: task.command, hosts: targets };
    // A limited token cancels only tasks it may read: every host of the task within its patterns.
    // Cancelling part of a task it may not read would act on work it cannot see.
    const outside = who.principal.scope.outside(invocations.map((r) => r.host));
    if (outside.length > 0) {
      const patterns = `(${(who.principal.hostPatterns ?? []).join(' ')})`;
      await this.audit.cancelRefused(
        who,
        subject,
        `task has hosts outside the token's patterns ${patterns}: ${nameHosts(outside)}`,
      );
      throw new ForbiddenError(
        `the token ${JSON.stringify(who.principal.name)} may not cancel task ${taskId}: task has hosts outside the token's patterns ${patterns}; nothing was cancelled`,
      );
    }
    const unknown = hosts ? hosts.filter((h) => !invocations.some((r) => r.host === h)) : [];
    if (unknown.length > 0)
      throw new UnprocessableTaskError(
        `cannot cancel: hosts not in task ${taskId}: ${unknown.join(', ')}; nothing was cancelled`,
      );
    const now = this.clock.now();
    const reason = `cancelled by ${who.principal.name} before it started`;
    const { pending, running, completed } = await this.store.requestCancel(
      taskId,
      hosts && hosts.length > 0 ? new Set(hosts) : null,
      reason,
      now,
    );
    // Every host with anything not yet terminal hears of it: a "pending" command may already be running there.
    const byHost = new Map<string, string[]>();
    for (const r of [...pending, ...running]) byHost.set(r.host, [...(byHost.get(r.host) ?? []), r.id]);
    const sends = [...byHost].map(async ([host, invocationIds]) => {
      // Addressed, as its commands were, to the host's accepted key: an agent with any other refuses it.
      const agentKeyId = await this.trust.acceptedKeyId(host);
      if (!agentKeyId) {
        this.log.warn(
          { taskId, host },
          'cancel not sent: the host has no accepted key; its running command ends by its deadline',
        );
        return;
      }
      await this.publisher.cancel(task, { host, agentKeyId }, invocationIds, who.principal.name, now);
    });
    const settled = await Promise.allSettled(sends);
    const failed = settled.filter((s) => s.status === 'rejected').length;
    if (failed > 0)
      this.log.error(
        { taskId, failed },
        'some cancels were not confirmed by the broker; pending ones stay cancelled, running ones end by their deadline',
      );
    this.changes.committed([taskId], completed ? [taskId] : []);
    const outcome = {
      id: taskId,
      cancelled: pending.map((r) => r.host),
      killing: running.map((r) => r.host),
      state: (await this.store.getTask(taskId))!.state,
    };
    const detail = Object.fromEntries(
      Object.entries({ cancelled: outcome.cancelled, killing: outcome.killing }).filter(
        ([, hosts]) => hosts.length > 0,
      ),
    );
    await this.audit.cancelled(who, subject, detail);
    this.log.info(
      { taskId, requestedBy: who.principal.name, cancelled: pending.length, killing: running.length },
      'task cancel requested',
    );
    return outcome;
  }
}
