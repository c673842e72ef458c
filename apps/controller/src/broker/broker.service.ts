import { randomBytes } from 'node:crypto';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AmqpConnection, assertTopology, ConfirmPublisher, type ReturnedMessage } from '@warren/amqp';
import { changesExchange, controllerChangesQueue, presenceExchange, sharedTopology } from '@warren/protocol';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { ControllerConfig } from '../config/controller.config';
import { eventsTopologySetup } from './events.topology';

/**
 * The controller's one broker connection and its confirm publisher. Asserts the shared topology,
 * the events stream (`eventsTopologySetup`) and this controller's own exclusive presence and
 * changes queues on every (re)connect. Consumers attach to
 * `connection`; they are closed by their owners before this closes the connection.
 */
@Injectable()
export class BrokerService implements OnApplicationShutdown {
  readonly connection: AmqpConnection;
  readonly publisher: ConfirmPublisher;
  /** this controller process's random id (8 hex digits): names its own queues, signs its changes messages */
  readonly instanceId = randomBytes(4).toString('hex');
  /** exclusive, auto-deleted queue bound to the presence fanout; one per controller process */
  readonly presenceQueue: string;
  /** exclusive, auto-deleted queue bound to the changes fanout between controllers; one per process */
  readonly changesQueue: string;
  private readonly returnHandlers: ((msg: ReturnedMessage) => void)[] = [];
  private readonly log: Logger;

  constructor(config: ControllerConfig, @Inject(ROOT_LOGGER) root: Logger) {
    this.log = root.child({ component: 'broker' });
    const ns = config.namespace;
    this.presenceQueue = `${ns}.presence.controller-${this.instanceId}`;
    this.changesQueue = controllerChangesQueue(ns, this.instanceId);
    const eventsSetup = eventsTopologySetup(ns, config.eventsRetention, this.log);
    this.connection = new AmqpConnection({
      url: config.brokerUrl,
      name: `warren-controller ${process.pid}`,
      logger: this.log,
      heartbeatSec: config.amqpHeartbeatSec,
      tls: config.brokerTls,
      setup: async (ch, conn) => {
        const t = sharedTopology(ns, config.queueType);
        await assertTopology(ch, {
          ...t,
          queues: [
            ...t.queues,
            { name: this.presenceQueue, durable: false, exclusive: true, autoDelete: true },
            { name: this.changesQueue, durable: false, exclusive: true, autoDelete: true },
          ],
          bindings: [
            ...t.bindings,
            { queue: this.presenceQueue, exchange: presenceExchange(ns), routingKey: '' },
            { queue: this.changesQueue, exchange: changesExchange(ns), routingKey: '' },
          ],
        });
        await eventsSetup(ch, conn);
      },
    });
    this.publisher = new ConfirmPublisher(this.connection, {
      logger: this.log,
      onReturn: (msg) => this.returnHandlers.forEach((h) => h(msg)),
      waitForConnectionMs: 5_000,
    });
  }

  /** Connects in the background; the HTTP API is up even while the broker is not. */
  async start(): Promise<void> {
    await this.publisher.start();
    this.connection.start();
  }

  /** Registers a handler for commands the broker returned as unroutable. */
  onReturn(handler: (msg: ReturnedMessage) => void): void {
    this.returnHandlers.push(handler);
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher.close(2_000);
    await this.connection.close();
  }
}
