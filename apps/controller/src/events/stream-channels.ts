import { Inject, Injectable, type OnApplicationShutdown, type OnModuleDestroy } from '@nestjs/common';
import { AmqpConnection, type Channel, type ChannelModel } from '@warren/amqp';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { ControllerConfig } from '../config/controller.config';

/** ms between looks at the connection while waiting for the broker */
const WAIT_STEP_MS = 5_000;

/**
 * Plain channels for the readers of the events stream, one per SSE session, on a broker connection
 * of their own (`warren-controller <pid> events`, same URLs, TLS and heartbeat as the controller's
 * main one): the broker allows 2,047 channels per connection by default (`channel_max`,
 * https://www.rabbitmq.com/docs/channels#channel-max), and on the main connection the SSE sessions
 * would take the last ones from the results consumer and the publisher. `EventStreamSlots` caps the
 * sessions well below that. Channels are not owned: a channel the broker closes costs that reader
 * a re-subscribe, not the connection a reconnect. The connection is opened at the first session,
 * so a controller nobody watches through holds none; it declares nothing (the main connection
 * declares the stream: a reader that comes first retries its subscribe).
 */
@Injectable()
export class StreamChannels implements OnModuleDestroy, OnApplicationShutdown {
  readonly connection: AmqpConnection;
  /** the live connection, from the attach hook; null between connections */
  private model: ChannelModel | null = null;
  private started = false;
  private closed = false;
  private readonly log: Logger;

  constructor(config: ControllerConfig, @Inject(ROOT_LOGGER) root: Logger) {
    this.log = root.child({ component: 'events' });
    this.connection = new AmqpConnection({
      url: config.brokerUrl,
      name: `warren-controller ${process.pid} events`,
      logger: this.log,
      heartbeatSec: config.amqpHeartbeatSec,
      tls: config.brokerTls,
      setup: async () => undefined,
    });
    this.connection.on('disconnected', () => (this.model = null));
    void this.connection.attach(async (model) => {
      this.model = model;
    });
  }

  /**
   * A fresh channel once the events connection is up (waiting as long as it takes, or until
   * `abandoned()` says the caller gave up, then null). The first call starts the connection.
   */
  async open(abandoned: () => boolean): Promise<Channel | null> {
    if (!this.started && !this.closed) {
      this.started = true;
      this.connection.start();
    }
    for (;;) {
      if (this.closed || abandoned()) return null;
      const model = this.connection.connected ? this.model : null;
      if (model) {
        try {
          const ch = await model.createChannel();
          ch.on('error', (err: Error) => this.log.debug({ err: err.message }, 'events stream channel error'));
          return ch;
        } catch (err) {
          this.log.debug({ err: (err as Error).message }, 'no channel for the events stream yet');
        }
      }
      await this.connection.waitConnected(WAIT_STEP_MS).catch(() => undefined);
      if (model && this.model === model) await new Promise((r) => setTimeout(r, 200)); // the same connection failed: not in a loop
    }
  }

  /** No channel is handed out after this (shutdown). */
  onModuleDestroy(): void {
    this.closed = true;
  }

  /** Closes the events connection, and with it every reader's channel. */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    if (this.started) await this.connection.close();
  }
}
