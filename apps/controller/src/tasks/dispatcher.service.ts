import { Inject, Injectable } from '@nestjs/common';
import type { ReturnedMessage } from '@warren/amqp';
import {
  APP_ID,
  type CommandMessage,
  commandExchange,
  encode,
  MESSAGE_TYPES,
  PROTOCOL_VERSION,
  resultsQueue,
} from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { ROOT_LOGGER } from '../logger';
import { TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';

/**
 * Publishes a task's commands, one per host, back to back, then awaits their confirms together.
 * An unroutable command (no queue for that host) comes back as `basic.return` before its confirm
 * and becomes `unknown_host` at once.
 */
@Injectable()
export class DispatcherService {
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'dispatcher' });
    this.broker.onReturn((msg) => this.onReturn(msg));
  }

  /** Publishes every invocation of `task`; resolves when each is confirmed or marked `error`. */
  async dispatch(task: TaskRecord, invocations: { id: string; host: string }[], issuedAt: number): Promise<void> {
    const ns = this.config.namespace;
    const expiresAt = issuedAt + task.deliveryTimeoutMs;
    const sends = invocations.map((inv) => {
      const msg: CommandMessage = {
        v: PROTOCOL_VERSION,
        kind: 'command',
        invocationId: inv.id,
        taskId: task.id,
        host: inv.host,
        command: task.command,
        cwd: task.cwd,
        env: task.env,
        timeoutMs: task.timeoutMs,
        killGraceMs: task.killGraceMs,
        issuedAt,
        expiresAt,
      };
      return this.broker.publisher.publish(commandExchange(ns), inv.host, encode(msg), {
        persistent: true,
        mandatory: true,
        expiration: String(task.deliveryTimeoutMs),
        correlationId: inv.id,
        messageId: inv.id,
        replyTo: resultsQueue(ns),
        type: MESSAGE_TYPES.command,
        contentType: 'application/json',
        timestamp: Math.floor(issuedAt / 1000),
        appId: APP_ID,
      });
    });
    const settled = await Promise.allSettled(sends);
    const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ inv: invocations[i], err: s.reason as Error }] : []));
    if (failures.length > 0) {
      const now = Date.now();
      for (const f of failures) this.log.error({ taskId: task.id, host: f.inv.host, correlationId: f.inv.id, err: f.err.message }, 'command not sent');
      const { completedTaskIds } = this.store.applyUpdates(
        failures.map((f) => ({ kind: 'verdict', invocationId: f.inv.id, state: 'error', reason: `not sent: ${f.err.message}`, at: now })),
        now,
      );
      this.notifier.notify(completedTaskIds);
    }
    this.log.info({ taskId: task.id, hosts: invocations.length, failed: failures.length, ms: Date.now() - issuedAt }, 'task dispatched');
  }

  private onReturn(msg: ReturnedMessage): void {
    const invocationId = msg.properties.correlationId as string | undefined;
    if (!invocationId) return;
    const host = msg.fields.routingKey;
    const now = Date.now();
    const { applied, completedTaskIds } = this.store.applyUpdates(
      [{ kind: 'verdict', invocationId, state: 'unknown_host', reason: `no agent has ever registered host ${host} on this broker (${msg.fields.replyText})`, at: now }],
      now,
    );
    if (applied) this.log.warn({ host, correlationId: invocationId, state: 'unknown_host' }, 'command returned unroutable');
    this.notifier.notify(completedTaskIds);
  }
}
