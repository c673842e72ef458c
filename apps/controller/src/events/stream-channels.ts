import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { Channel, ChannelModel } from '@warren/amqp';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';

/** ms between looks at the connection while waiting for the broker */
const WAIT_STEP_MS = 5_000;

/**
 * Plain channels on the controller's broker connection for the readers of the events stream, one
 * per SSE session: not owned (a channel the broker closes costs that reader a re-subscribe, not the
 * connection a reconnect). Each holds a consumer of the stream; the broker allows 2,047 channels
 * per connection by default (`channel_max`), which bounds the SSE sessions of one controller.
 */
@Injectable()
export class StreamChannels implements OnModuleDestroy {
  /** the live connection, from the attach hook; null between connections */
  private model: ChannelModel | null = null;
  private closed = false;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'events' });
    broker.connection.on('disconnected', () => (this.model = null));
    void broker.connection.attach(async (model) => {
      this.model = model;
    });
  }

  /**
   * A fresh channel once the broker is connected (waiting as long as it takes, or until
   * `abandoned()` says the caller gave up, then null).
   */
  async open(abandoned: () => boolean): Promise<Channel | null> {
    for (;;) {
      if (this.closed || abandoned()) return null;
      const model = this.broker.connected ? this.model : null;
      if (model) {
        try {
          const ch = await model.createChannel();
          ch.on('error', (err: Error) => this.log.debug({ err: err.message }, 'events stream channel error'));
          return ch;
        } catch (err) {
          this.log.debug({ err: (err as Error).message }, 'no channel for the events stream yet');
        }
      }
      await this.broker.connection.waitConnected(WAIT_STEP_MS).catch(() => undefined);
      if (model && this.model === model) await new Promise((r) => setTimeout(r, 200)); // the same connection failed: not in a loop
    }
  }

  /** No channel is handed out after this (shutdown). */
  onModuleDestroy(): void {
    this.closed = true;
  }
}
