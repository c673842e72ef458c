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
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { HostKeysStore } from '../hosts/host-keys.store';
import { HostsRegistry } from '../hosts/hosts.registry';
import { ControllerKey } from '../keys/controller-key';
import { MetricsService } from '../metrics/metrics.service';
import { type InvocationUpdate, TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';

/**
 * Publishes a task's commands, one per host, back to back, then awaits their confirms together.
 * Each command is signed with the controller's key over its whole body (see libs/protocol
 * signing.ts). Only hosts whose key is accepted get one: a host never announced is `unknown_host`,
 * one whose key awaits acceptance is `rejected`, both at once and without sending anything, since
 * nothing such a host answered could be stored. An unroutable command (no queue for that host)
 * comes back as `basic.return` before its confirm and becomes `unknown_host` at once.
 */
@Injectable()
export class DispatcherService {
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    private readonly signer: ControllerKey,
    private readonly hostKeys: HostKeysStore,
    private readonly hosts: HostsRegistry,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
  ) {
    this.log = root.child({ component: 'dispatcher' });
    this.broker.onReturn((msg) => {
      this.onReturn(msg).catch((err: Error) =>
        this.log.error({ err: err.message, host: msg.fields.routingKey }, 'returned command not recorded'),
      );
    });
  }

  /** Publishes every invocation of `task`; resolves when each is confirmed or marked `error`. */
  async dispatch(task: TaskRecord, all: { id: string; host: string }[], issuedAt: number): Promise<void> {
    const ns = this.config.namespace;
    const expiresAt = issuedAt + task.deliveryTimeoutMs;
    const invocations = await this.refuseUntrusted(task, all, issuedAt);
    const sends = invocations.map((inv) => {
      const msg: CommandMessage = {
        v: PROTOCOL_VERSION,
        kind: 'command',
        invocationId: inv.id,
        taskId: task.id,
        host: inv.host,
        command: task.command,
        runAs: task.runAs,
        cwd: task.cwd,
        env: task.env,
        timeoutMs: task.timeoutMs,
        killGraceMs: task.killGraceMs,
        issuedAt,
        expiresAt,
        replyTo: resultsQueue(ns),
        ...(task.live === false ? { live: false } : {}),
      };
      const body = encode(msg);
      return this.metrics.timePublish(inv.id, () =>
        this.broker.publisher.publish(commandExchange(ns), inv.host, body, {
          headers: this.signer.sign(body),
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
        }),
      );
    });
    const settled = await Promise.allSettled(sends);
    const failures = settled.flatMap((s, i) =>
      s.status === 'rejected' ? [{ inv: invocations[i], err: s.reason as Error }] : [],
    );
    if (failures.length > 0) {
      const now = this.clock.now();
      for (const f of failures)
        this.log.error(
          { taskId: task.id, host: f.inv.host, correlationId: f.inv.id, err: f.err.message },
          'command not sent',
        );
      const { completedTaskIds } = await this.store.applyUpdates(
        failures.map((f) => ({
          kind: 'verdict',
          invocationId: f.inv.id,
          state: 'error',
          reason: `not sent: ${f.err.message}`,
          at: now,
        })),
        now,
      );
      this.notifier.notify(completedTaskIds);
    }
    this.log.info(
      { taskId: task.id, hosts: invocations.length, failed: failures.length, ms: this.clock.now() - issuedAt },
      'task dispatched',
    );
  }

  /** Marks the invocations of hosts without an accepted key; returns the others. */
  private async refuseUntrusted(
    task: TaskRecord,
    invocations: { id: string; host: string }[],
    now: number,
  ): Promise<{ id: string; host: string }[]> {
    const sendable: { id: string; host: string }[] = [];
    const verdicts: InvocationUpdate[] = [];
    for (const inv of invocations) {
      // The common case costs two map lookups; the store is read only for a host not plainly trusted.
      const accepted = this.hostKeys.isAccepted(inv.host);
      if (accepted && !this.hosts.acceptedKeyGone(inv.host, now)) {
        sendable.push(inv);
        continue;
      }
      const { trust, pendingKeyIds } = await this.hostKeys.view(inv.host);
      const changedAndGone = accepted && trust === 'changed';
      if (accepted && !changedAndGone) {
        sendable.push(inv); // accepted and merely offline: it ends `undelivered` if it stays away
        continue;
      }
      const [state, reason] =
        trust === 'unknown'
          ? (['unknown_host', `no agent has announced host ${inv.host} to this controller`] as const)
          : changedAndGone
            ? ([
                'rejected',
                `controller: host ${inv.host} now announces another key (${pendingKeyIds[0] ?? ''}) and its accepted key is gone; if it was reinstalled, check the new key and run \`warren hosts accept ${inv.host}\``,
              ] as const)
            : ([
                'rejected',
                `controller: host ${inv.host}'s key ${pendingKeyIds[0] ?? ''} is not accepted; check it and run \`warren hosts accept ${inv.host}\``,
              ] as const);
      verdicts.push({ kind: 'verdict', invocationId: inv.id, state, reason, at: now });
      this.log.warn(
        { taskId: task.id, host: inv.host, correlationId: inv.id, state },
        'command not sent: host not trusted',
      );
    }
    if (verdicts.length > 0) this.notifier.notify((await this.store.applyUpdates(verdicts, now)).completedTaskIds);
    return sendable;
  }

  private async onReturn(msg: ReturnedMessage): Promise<void> {
    const invocationId = msg.properties.correlationId as string | undefined;
    if (!invocationId) return;
    const host = msg.fields.routingKey;
    const now = this.clock.now();
    const { applied, completedTaskIds } = await this.store.applyUpdates(
      [
        {
          kind: 'verdict',
          invocationId,
          state: 'unknown_host',
          reason: `no agent has ever registered host ${host} on this broker (${msg.fields.replyText})`,
          at: now,
        },
      ],
      now,
    );
    if (applied)
      this.log.warn({ host, correlationId: invocationId, state: 'unknown_host' }, 'command returned unroutable');
    this.notifier.notify(completedTaskIds);
  }
}
