import { AmqpConnection, ClosedError, ConfirmPublisher } from '@warren/amqp';
import type { Logger } from 'pino';
import { AgentConfig } from '../config/agent.config';
import { agentTopologySetup } from './agent.topology';

/**
 * ms a reply may wait for the broker. Results are held in memory until the broker comes back,
 * however long that takes within reason: a result is the only record of what ran.
 */
const REPLY_HOLD_MS = 24 * 3600 * 1000;

/**
 * The agent's one broker connection (reconnecting, topology asserted, or with a least-privilege
 * broker user only checked, on every connect; TLS material from the config for amqps://) and its
 * confirm publisher. Consumers and the publisher attach before `start`, so the first connection
 * sets everything up at once. Closed last, by the agent's shutdown sequence.
 */
export class BrokerService {
  readonly connection: AmqpConnection;
  readonly publisher: ConfirmPublisher;
  private readonly waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(config: AgentConfig, root: Logger) {
    const log = root.child({ component: 'broker' });
    this.connection = new AmqpConnection({
      url: config.brokerUrl,
      name: `warren-agent ${config.host}`,
      logger: log,
      heartbeatSec: config.amqpHeartbeatSec,
      tls: config.brokerTls,
      setup: agentTopologySetup(config.namespace, config.host, config.queueType, log),
    });
    this.publisher = new ConfirmPublisher(this.connection, { logger: log, waitForConnectionMs: REPLY_HOLD_MS });
    this.connection.on('connected', () => {
      for (const w of this.waiters) w.resolve();
      this.waiters.clear();
    });
  }

  /** Attaches the publisher and starts connecting in the background (retrying until it succeeds). */
  async start(): Promise<void> {
    await this.publisher.start();
    this.connection.start();
  }

  /**
   * Resolves when connected: now, or at the next connect. Rejects with `ClosedError` once the
   * broker service is closed. Replies wait here rather than in the publisher, so that a reply is
   * encoded and handed over only once it can go out.
   */
  whenConnected(): Promise<void> {
    if (this.connection.connected) return Promise.resolve();
    if (this.closed) return Promise.reject(new ClosedError('broker connection closed'));
    return new Promise((resolve, reject) => this.waiters.add({ resolve, reject }));
  }

  /**
   * Closes the connection, then the publisher (failing whatever it still holds, and clearing its
   * timers); replies still waiting for a connection fail with `ClosedError`. By now the shutdown
   * sequence has already waited for every result to be confirmed.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters) w.reject(new ClosedError('broker connection closed'));
    this.waiters.clear();
    await this.connection.close();
    await this.publisher.close(0);
  }
}
