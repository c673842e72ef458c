import { Inject, Injectable } from '@nestjs/common';
import { Consumer, type Delivery } from '@warren/amqp';
import {
  decodeReply,
  KEY_ID_HEADER,
  type ResultMessage,
  resultsQueue,
  UNVERIFIED_REJECT_CODES,
  verifyBody,
} from '@warren/protocol';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { HostKeysStore } from '../hosts/host-keys.store';
import { MetricsService } from '../metrics/metrics.service';
import { TASK_STORE, type InvocationUpdate, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from '../tasks/completion.notifier';

/** Most replies stored in one transaction. */
const MAX_BATCH = 500;

/**
 * Consumes `started` and `result` replies from the durable results queue and stores them, many per
 * transaction; each message is acked only after the transaction holding it has committed, so a
 * controller crash loses nothing (the broker redelivers, and storing is idempotent).
 *
 * A reply is believed only when it is signed by the accepted key of the host it speaks for, and it
 * can change only that host's invocations (see {@link HostKeysStore}); anything else is dropped and
 * logged. An agent's `rejected` answers are audited; those about messages it could not verify,
 * about another host's command, or about a replay change no invocation (their ids are claims, or
 * the first copy's outcome stands).
 */
@Injectable()
export class ResultsConsumer {
  private consumer: Consumer | null = null;
  private batch: Delivery[] = [];
  private scheduled = false;
  /**
   * The flushes, one after the other: replies are stored (and live events emitted) in the order read,
   * and shutdown waits for the last one.
   */
  private flushing: Promise<void> = Promise.resolve();
  /** replies dropped because no accepted key signed them */
  private untrusted = 0;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly taskStore: TaskStore,
    private readonly notifier: CompletionNotifier,
    private readonly hostKeys: HostKeysStore,
    private readonly events: TaskActivityNotifier,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly metrics: MetricsService,
    private readonly clock: Clock,
  ) {
    this.log = root.child({ component: 'results' });
  }

  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: resultsQueue(this.config.namespace),
      prefetch: 2 * MAX_BATCH,
      logger: this.log,
      handler: (d) => this.enqueue(d),
    });
    await this.consumer.start();
  }

  private enqueue(d: Delivery): void {
    this.batch.push(d);
    if (this.batch.length >= MAX_BATCH) void this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Takes everything received so far and stores it after the flushes before it; resolves when it is acked. */
  private flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0)
      this.flushing = this.flushing.then(() =>
        this.storeBatch(batch).catch((err: Error) => {
          // A read of the store failed before the write: put back what is not settled, after a pause.
          this.log.error({ err: err.message, count: batch.length }, 'reading the store failed; requeueing');
          setTimeout(() => batch.forEach((d) => d.settled || d.reject(true)), 1_000).unref();
        }),
      );
    return this.flushing;
  }

  /**
   * Decodes, stores and acks one batch: each reply is acked only once the store has committed it;
   * a failure to store puts the replies back on the queue.
   */
  private async storeBatch(batch: Delivery[]): Promise<void> {
    const updates: InvocationUpdate[] = [];
    const accepted: Delivery[] = [];
    /** tasks whose invocations these replies may change */
    const touched = new Set<string>();
    for (const d of batch) {
      const headers = d.properties.headers as Record<string, unknown> | undefined;
      const keyId = headers?.[KEY_ID_HEADER];
      const signer = typeof keyId === 'string' ? this.hostKeys.acceptedKey(keyId) : null;
      if (!signer) {
        this.untrusted++;
        this.metrics.replyRejected('untrusted_key');
        this.log.warn(
          {
            correlationId: d.properties.correlationId,
            keyId: typeof keyId === 'string' ? keyId.slice(0, 80) : null,
            dropped: this.untrusted,
          },
          'dropped a reply not signed by an accepted agent key',
        );
        d.reject(false);
        continue;
      }
      const v = verifyBody(d.content, headers, new Map([[keyId as string, signer.key]]));
      const decoded = v.ok ? decodeReply(d.content) : null;
      if (!v.ok || !decoded?.ok || decoded.message.host !== signer.host) {
        const reason = !v.ok
          ? v.reason
          : decoded && !decoded.ok
            ? decoded.reason
            : `signed by ${signer.host}'s key but speaks for ${decoded?.ok ? decoded.message.host : '?'}`;
        this.metrics.replyRejected(!v.ok ? 'bad_signature' : decoded && !decoded.ok ? 'malformed' : 'wrong_host');
        this.log.warn({ host: signer.host, correlationId: d.properties.correlationId, reason }, 'rejected reply');
        d.reject(false);
        continue;
      }
      const m = decoded.message;
      accepted.push(d);
      if (m.kind === 'output') {
        // Live only, never stored: so check here that it is about this host's own invocation.
        if (await this.owns(m)) this.events.output(m);
        continue;
      }
      touched.add(m.taskId);
      if (m.kind === 'started') {
        if (await this.owns(m)) this.events.started(m); // now, so that it precedes the live chunks read after it
        updates.push({
          kind: 'started',
          invocationId: m.invocationId,
          host: m.host,
          startedAt: m.startedAt,
          resultGraceMs: this.config.resultGraceMs,
        });
        continue;
      }
      if (m.state === 'rejected') {
        await this.auditRejection(m);
        this.metrics.agentRejected(m.code);
      }
      if (m.code && (UNVERIFIED_REJECT_CODES.includes(m.code) || m.code === 'wrong_host' || m.code === 'replay'))
        continue;
      updates.push(m); // a result message is itself a `result` update: its outcome plus ids
      this.log.info(
        {
          taskId: m.taskId,
          host: m.host,
          correlationId: m.invocationId,
          state: m.state,
          exitCode: m.exitCode,
          durationMs: m.durationMs,
          code: m.code,
        },
        'invocation finished',
      );
    }
    if (updates.length === 0) {
      for (const d of accepted) d.ack();
      return;
    }
    try {
      const { completedTaskIds } = await this.taskStore.applyUpdates(updates, this.clock.now());
      for (const d of accepted) d.ack();
      this.events.changed(touched);
      this.notifier.notify(completedTaskIds);
      for (const taskId of completedTaskIds) this.log.info({ taskId }, 'task completed');
    } catch (err) {
      // Not stored, so not acked: put them back after a pause rather than spin on a failing disk.
      this.log.error({ err: (err as Error).message, count: accepted.length }, 'storing replies failed; requeueing');
      setTimeout(() => accepted.forEach((d) => d.reject(true)), 1_000).unref();
    }
  }

  /** invocation id → its task and host, for the live events (bounded: the oldest go first) */
  private readonly owners = new Map<string, { taskId: string; host: string } | null>();

  /** True when the invocation a live event names is a task's invocation on the host that signed it. */
  private async owns(m: { invocationId: string; taskId: string; host: string }): Promise<boolean> {
    let o = this.owners.get(m.invocationId);
    if (o === undefined) {
      o = await this.taskStore.invocationOwner(m.invocationId);
      this.owners.set(m.invocationId, o);
      if (this.owners.size > 50_000) this.owners.delete(this.owners.keys().next().value as string);
    }
    const ok = o !== null && o.taskId === m.taskId && o.host === m.host;
    if (!ok)
      this.log.warn(
        { host: m.host, taskId: m.taskId, correlationId: m.invocationId },
        "dropped a live event about an invocation that is not this host's",
      );
    return ok;
  }

  /** One audit record per refusal an agent reports. */
  private auditRejection(m: ResultMessage): Promise<void> {
    return this.audit.record({
      actor: `agent:${m.host}`,
      source: 'broker',
      action: 'agent.rejected',
      decision: 'denied',
      reason: m.reason,
      taskId: m.taskId === 'unknown' ? null : m.taskId,
      hosts: [m.host],
      invocationId: m.invocationId,
      detail: { code: m.code ?? null },
    });
  }

  /** Stops taking replies, stores and acks those received (AppModule calls it at shutdown, see there). */
  async stop(): Promise<void> {
    await this.consumer?.cancel();
    await this.flush();
    await this.consumer?.close();
  }
}
