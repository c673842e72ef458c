import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Consumer } from '@warren/amqp';
import { undeliveredQueue } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { ROOT_LOGGER } from '../logger';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from '../tasks/completion.notifier';

/**
 * Commands that expired unread in a host's inbox are dead-lettered here and marked `undelivered`.
 * Dead-lettering is at most once and a classic queue expires only at its head, so this is the
 * fast path only: the deadline sweeper is the authority.
 */
@Injectable()
export class UndeliveredConsumer implements OnModuleDestroy {
  private consumer: Consumer | null = null;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'undelivered' });
  }

  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: undeliveredQueue(this.config.namespace),
      prefetch: 100,
      logger: this.log,
      handler: (d) => {
        const invocationId = d.properties.correlationId as string | undefined;
        // Agents also dead-letter what they reject unread (malformed, wrong host): only an expiry
        // means nobody took the command.
        const deaths = d.properties.headers?.['x-death'] as { reason?: string }[] | undefined;
        const expired = deaths?.[0]?.reason === 'expired';
        if (invocationId && expired) {
          const now = Date.now();
          const { applied, completedTaskIds } = this.store.applyUpdates(
            [{ kind: 'verdict', invocationId, state: 'undelivered', reason: 'expired in the host queue: no agent took it within the delivery timeout', at: now }],
            now,
          );
          if (applied) this.log.warn({ correlationId: invocationId, state: 'undelivered' }, 'command expired unread');
          this.notifier.notify(completedTaskIds);
        }
        d.ack();
      },
    });
    await this.consumer.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer?.close();
  }
}
