import { Inject, Injectable } from '@nestjs/common';
import type { Channel, ChannelModel } from '@warren/amqp';
import { resultsQueue } from '@warren/protocol';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { EventStreamSlots } from '../events/event-stream.slots';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { HostsRegistry } from '../hosts/hosts.registry';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { costlyMatching } from '../tasks/glob.matching';
import { MetricsService } from './metrics.service';

/** ms; a scrape does not wait longer than this for the broker to count the results queue */
const QUEUE_CHECK_TIMEOUT_MS = 1_000;

/**
 * Connects {@link MetricsService} to what it reads at scrape time (the task store, the presence
 * registry, the broker connection), to the connection's events and to the store's commits. Built by Nest with the other
 * providers, before the connection starts, so that it hears the first `connected`.
 */
@Injectable()
export class MetricsSources {
  /** the live connection, from the attach hook; null between connections */
  private model: ChannelModel | null = null;
  /** a plain channel (not an owned one: a refused check must not cost a reconnect) for checkQueue */
  private channel: Promise<Channel> | null = null;
  private readonly log: Logger;

  constructor(
    metrics: MetricsService,
    @Inject(TASK_STORE) store: TaskStore,
    private readonly broker: BrokerService,
    hosts: HostsRegistry,
    private readonly config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
    activity: TaskActivityNotifier,
    slots: EventStreamSlots,
  ) {
    this.log = root.child({ component: 'metrics' });
    activity.onApplied((changes) => metrics.invocationsChanged(changes));
    const conn = broker.connection;
    conn.on('connected', () => metrics.brokerConnectedEvent());
    conn.on('reconnect-failed', () => metrics.brokerConnectFailed());
    conn.on('disconnected', () => this.forget());
    void conn.attach(async (model) => {
      this.forget();
      this.model = model;
    });
    metrics.bind({
      activity: () => store.activity(),
      hosts: () => {
        const online = hosts.onlineHosts().length;
        return { online, offline: hosts.known().length - online };
      },
      brokerConnected: () => broker.connected,
      resultsQueueDepth: () => this.resultsQueueDepth(),
      globMatching: () => ({ running: costlyMatching.running, waiting: costlyMatching.waiting }),
      eventStreams: () => ({ open: slots.open, max: slots.max, refused: slots.refused }),
    });
  }

  private forget(): void {
    this.model = null;
    this.channel = null;
  }

  /** Messages ready in the results queue, or null when the broker is away or slow to say. */
  private async resultsQueueDepth(): Promise<number | null> {
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
    ch.on('error', (err: Error) => this.log.debug({ err: err.message }, 'metrics channel error'));
    ch.on('close', () => {
      if (this.model === model) this.channel = null;
    });
    return ch;
  }
}
