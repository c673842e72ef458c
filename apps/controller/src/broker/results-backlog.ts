import { Inject, Injectable } from '@nestjs/common';
import type { Channel, ChannelModel } from '@warren/amqp';
import { resultsQueue } from '@warren/protocol';
import { ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { ControllerConfig } from '../config/controller.config';
import { BrokerService } from './broker.service';

/** ms; nobody waits longer than this for the broker to count the results queue */
const QUEUE_CHECK_TIMEOUT_MS = 1_000;

/**
 * How many replies wait in the results queue, ready and not yet taken by any controller (AMQP
 * `queue.declare` passive: its `message-count` counts ready messages only, not those delivered
 * and unacked). More than zero means the controllers read replies slower than agents send them:
 * `/metrics` shows it (`warren_results_queue_messages`), and the deadline sweeper holds its
 * verdicts while it lasts (a reply of an invocation it would judge may be among them).
 */
@Injectable()
export class ResultsBacklog {
  /** the live connection, from the attach hook; null between connections */
  private model: ChannelModel | null = null;
  /** a plain channel (not an owned one: a refused check must not cost a reconnect) for checkQueue */
  private channel: Promise<Channel> | null = null;
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'broker' });
    const conn = broker.connection;
    conn.on('disconnected', () => this.forget());
    void conn.attach(async (model) => {
      this.forget();
      this.model = model;
    });
  }

  private forget(): void {
    this.model = null;
    this.channel = null;
  }

  /** Messages ready in the results queue, or null when the broker is away or slow (> 1 s) to say. */
  async depth(): Promise<number | null> {
    const model = this.model;
    if (!model || !this.broker.connected) return null;
    let timer: NodeJS.Timeout | undefined;
    try {
      this.channel ??= this.openChannel(model);
      const check = this.channel.then((ch) => ch.checkQueue(resultsQueue(this.config.namespace)));
      const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), QUEUE_CHECK_TIMEOUT_MS)));
      const ok = await Promise.race([check, late]);
      return ok ? ok.messageCount : null;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'cannot count the results queue');
      this.channel = null;
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  private async openChannel(model: ChannelModel): Promise<Channel> {
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.log.debug({ err: err.message }, 'results backlog channel error'));
    ch.on('close', () => {
      if (this.model === model) this.channel = null;
    });
    return ch;
  }
}
