import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Consumer, type Delivery } from '@warren/amqp';
import { decodeReply, resultsQueue } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { ROOT_LOGGER } from '../logger';
import { TASK_STORE, type InvocationUpdate, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from '../tasks/completion.notifier';

/** Most replies stored in one transaction. */
const MAX_BATCH = 500;

/**
 * Consumes `started` and `result` replies from the durable results queue and stores them, many per
 * transaction; each message is acked only after the transaction holding it has committed, so a
 * controller crash loses nothing (the broker redelivers, and storing is idempotent).
 */
@Injectable()
export class ResultsConsumer implements OnModuleDestroy {
  private consumer: Consumer | null = null;
  private batch: Delivery[] = [];
  private scheduled = false;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(ROOT_LOGGER) root: Logger,
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
    if (this.batch.length >= MAX_BATCH) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Decodes, stores and acks everything received so far. */
  private flush(): void {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length === 0) return;
    const updates: InvocationUpdate[] = [];
    const accepted: Delivery[] = [];
    for (const d of batch) {
      const decoded = decodeReply(d.content);
      if (!decoded.ok) {
        this.log.warn({ reason: decoded.reason, correlationId: d.properties.correlationId, ...decoded.partial }, 'rejected reply');
        d.reject(false);
        continue;
      }
      const m = decoded.message;
      accepted.push(d);
      if (m.kind === 'started') {
        updates.push({ kind: 'started', invocationId: m.invocationId, startedAt: m.startedAt, resultGraceMs: this.config.resultGraceMs });
      } else {
        updates.push(m); // a result message is itself a `result` update: its outcome plus ids
        this.log.info(
          { taskId: m.taskId, host: m.host, correlationId: m.invocationId, state: m.state, exitCode: m.exitCode, durationMs: m.durationMs },
          'invocation finished',
        );
      }
    }
    if (updates.length === 0) return;
    try {
      const { completedTaskIds } = this.store.applyUpdates(updates, Date.now());
      for (const d of accepted) d.ack();
      this.notifier.notify(completedTaskIds);
      for (const taskId of completedTaskIds) this.log.info({ taskId }, 'task completed');
    } catch (err) {
      // Not stored, so not acked: put them back after a pause rather than spin on a failing disk.
      this.log.error({ err: (err as Error).message, count: accepted.length }, 'storing replies failed; requeueing');
      setTimeout(() => accepted.forEach((d) => d.reject(true)), 1_000).unref();
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer?.cancel();
    this.flush();
    await this.consumer?.close();
  }
}
