import { randomUUID } from 'node:crypto';
import { APP_ID, encode, MESSAGE_TYPES, presenceExchange } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';
import { ProcessRunner } from '../exec/process.runner';
import { AgentIdentity } from '../identity/agent.identity';
import { Clock } from '@warren/runtime';
import { presenceMessage } from './presence.message';

/** ms; the longest a clean shutdown waits for its goodbye to be confirmed. */
const GOODBYE_WAIT_MS = 1_000;

/**
 * Announces the agent on the presence fanout: a heartbeat at once on every (re)connect and every
 * presence interval after, and a `goodbye` on clean shutdown. Heartbeats are published only while
 * connected and never queued: a stale heartbeat would say the agent is there when it may not be.
 */
export class PresenceService {
  private timer: NodeJS.Timeout | null = null;
  private readonly onConnected = () => this.beat();
  private readonly log: Logger;

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    private readonly runner: ProcessRunner,
    private readonly identity: AgentIdentity,
    private readonly clock: Clock,
    root: Logger,
  ) {
    this.log = root.child({ component: 'presence' });
  }

  /** Starts the heartbeat timer; call before the connection starts, so the first connect is announced. */
  start(): void {
    this.broker.connection.on('connected', this.onConnected);
    this.timer = setInterval(() => this.beat(), this.config.presenceIntervalMs);
  }

  /** Stops heartbeats. */
  stop(): void {
    this.broker.connection.off('connected', this.onConnected);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Says goodbye, waiting at most 1 s for the broker's confirm; best effort, never throws. */
  async goodbye(): Promise<void> {
    if (!this.broker.connection.connected) return;
    let timer: NodeJS.Timeout | undefined;
    const body = this.body('goodbye');
    const sent = this.broker.publisher
      .publish(presenceExchange(this.config.namespace), '', body, this.props(body))
      .then(() => true)
      .catch(() => false);
    const confirmed = await Promise.race([
      sent,
      new Promise<false>((r) => (timer = setTimeout(() => r(false), GOODBYE_WAIT_MS))),
    ]);
    clearTimeout(timer);
    this.log.info({ confirmed }, 'said goodbye');
  }

  private beat(): void {
    const body = this.body('online');
    const sent = this.broker.publisher.publishIfConnected(
      presenceExchange(this.config.namespace),
      '',
      body,
      this.props(body),
    );
    this.log.debug({ sent, running: this.runner.running }, 'heartbeat');
  }

  private body(status: 'online' | 'goodbye'): Buffer {
    const { host, labels, concurrency, presenceIntervalMs: intervalMs } = this.config;
    return encode(
      presenceMessage(
        { host, labels, concurrency, intervalMs, publicKey: this.identity.publicKeyBase64 },
        status,
        this.runner.running,
        this.clock.now(),
      ),
    );
  }

  /** Signed with the key it announces: proof that the sender holds it. */
  private props(body: Buffer) {
    return {
      headers: this.identity.sign(body),
      messageId: randomUUID(),
      type: MESSAGE_TYPES.presence,
      contentType: 'application/json',
      timestamp: Math.floor(this.clock.now() / 1000), // AMQP timestamps are in seconds
      appId: APP_ID,
    };
  }
}
