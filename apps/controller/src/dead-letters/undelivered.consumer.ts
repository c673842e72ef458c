import { Inject, Injectable } from '@nestjs/common';
import { Consumer } from '@warren/amqp';
import { decodeCommand, keyRing, undeliveredQueue, verifyBody } from '@warren/protocol';
import type { KeyObject } from 'node:crypto';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { ControllerKey } from '../keys/controller-key';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from '../tasks/completion.notifier';

/**
 * Commands that expired unread in a host's inbox are dead-lettered here and marked `undelivered`.
 * Dead-lettering is at most once and a classic queue expires only at its head, so this is the
 * fast path only: the deadline sweeper is the authority.
 *
 * Anyone who can publish to the broker can put a message here, so a dead letter counts only if its
 * body is a command this controller signed (the signature headers survive dead-lettering) whose
 * signed expiry has passed: an agent refuses such a command, so `undelivered` is then the truth
 * whoever sent the copy; and only an invocation still `pending` takes it (a copy unread does not
 * prove that no other copy was run; once an agent has journaled it, its `started`, confirmed before
 * the spawn, moves it on, and replaces this verdict if read after it). Anything else is logged and
 * dropped. Only the current key is
 * known here: after a key rotation, dead letters of older commands are left to the sweeper.
 */
@Injectable()
export class UndeliveredConsumer {
  private consumer: Consumer | null = null;
  private readonly log: Logger;
  private readonly ownKey: ReadonlyMap<string, KeyObject>;

  constructor(
    private readonly broker: BrokerService,
    key: ControllerKey,
    private readonly config: ControllerConfig,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly notifier: CompletionNotifier,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
  ) {
    this.log = root.child({ component: 'undelivered' });
    this.ownKey = keyRing([{ keyId: key.key.keyId, publicKey: key.key.publicKey }]);
  }

  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: undeliveredQueue(this.config.namespace),
      prefetch: 100,
      logger: this.log,
      // Acked once stored; a failure to store is logged and the message dropped by the consumer (the sweeper is the authority).
      handler: async (d) => {
        await this.onDeadLetter(d.content, d.properties.headers, d.properties.correlationId as string | undefined);
        d.ack();
      },
    });
    await this.consumer.start();
  }

  /** Marks the command `undelivered` if the dead letter is one of ours and expired; see the class comment. */
  async onDeadLetter(
    body: Buffer,
    headers: Record<string, unknown> | undefined,
    correlationId: string | undefined,
  ): Promise<void> {
    // Agents also dead-letter what they reject unread (malformed, wrong host): only an expiry
    // means nobody took the command.
    const deaths = headers?.['x-death'] as { reason?: string }[] | undefined;
    if (deaths?.[0]?.reason !== 'expired') return;
    const signed = verifyBody(body, headers, this.ownKey);
    if (!signed.ok) {
      this.log.warn(
        { correlationId, reason: signed.reason },
        'ignored a dead letter that is not a command this controller signed',
      );
      return;
    }
    const decoded = decodeCommand(body);
    if (!decoded.ok) {
      this.log.warn({ correlationId, reason: decoded.reason }, 'ignored a dead letter that is not a command');
      return;
    }
    const { invocationId, taskId, host, expiresAt } = decoded.message;
    const now = this.clock.now();
    if (now < expiresAt) {
      this.log.warn(
        { correlationId: invocationId, taskId, host, expiresAt },
        'ignored a dead letter whose command has not expired yet',
      );
      return;
    }
    const { applied, completedTaskIds } = await this.store.applyUpdates(
      // Only while `pending`: an expired copy proves that this copy went unread, not that no other
      // copy (re-published after a reconnect, or put back by whoever peeked at it) was taken.
      [
        {
          kind: 'verdict',
          invocationId,
          state: 'undelivered',
          reason: 'expired in the host queue: no agent took it within the delivery timeout',
          at: now,
          pendingOnly: true,
        },
      ],
      now,
    );
    if (applied)
      this.log.warn({ correlationId: invocationId, taskId, host, state: 'undelivered' }, 'command expired unread');
    this.notifier.notify(completedTaskIds);
  }

  /** Closes the consumer (AppModule calls it at shutdown, see there). */
  async stop(): Promise<void> {
    await this.consumer?.close();
  }
}
