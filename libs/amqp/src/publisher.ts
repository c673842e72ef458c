import type { ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { AmqpConnection } from './connection';
import { BrokerUnavailableError, ClosedError, PublishNackedError } from './errors';
import type { AmqpLogger } from './logger';

/** A message returned by the broker as unroutable (`mandatory` publish with no matching queue). */
export type ReturnedMessage = Pick<ConsumeMessage, 'content' | 'properties'> & {
  fields: { exchange: string; routingKey: string; replyText: string };
};

/** Options of {@link ConfirmPublisher}. */
export interface PublisherOptions {
  logger: AmqpLogger;
  /** called for every `basic.return` (before that message's confirm resolves) */
  onReturn?: (msg: ReturnedMessage) => void;
  /** ms; how long a publish made while disconnected waits for the connection before failing */
  waitForConnectionMs?: number;
}

interface Entry {
  exchange: string;
  routingKey: string;
  content: Buffer;
  options: Options.Publish;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | null;
  /** times handed to a channel; > 1 means re-published after a connection loss */
  sends: number;
}

/**
 * Publishes with publisher confirms and never loses a message it has accepted: a publish resolves
 * when the broker confirms it, rejects when the broker nacks it, and a message whose confirm was
 * lost with the connection is published again (same properties, same message id) on the next
 * connection. Receivers must therefore be idempotent; Warren's agents and controller are.
 *
 * A publish made while disconnected waits up to `waitForConnectionMs`, then fails with
 * {@link BrokerUnavailableError} without ever being sent.
 */
export class ConfirmPublisher {
  private channel: ConfirmChannel | null = null;
  /** not yet handed to a channel */
  private readonly waiting = new Set<Entry>();
  /** handed to the current channel, not yet confirmed */
  private readonly inFlight = new Set<Entry>();
  private closed = false;
  /** resolves `close`'s wait once nothing is pending */
  private onDrained: (() => void) | null = null;
  /** messages published again after a connection loss */
  republished = 0;

  constructor(
    private readonly conn: AmqpConnection,
    private readonly opts: PublisherOptions,
  ) {}

  /** Attaches to the connection; call once before publishing. */
  async start(): Promise<void> {
    await this.conn.attach(async (model) => {
      const ch = await this.conn.ownedConfirmChannel(model);
      ch.on('return', (msg: ConsumeMessage) => this.opts.onReturn?.(msg as unknown as ReturnedMessage));
      ch.on('close', () => this.onChannelClosed(ch));
      this.channel = ch;
      const resend = [...this.inFlight, ...this.waiting];
      this.inFlight.clear();
      this.waiting.clear();
      for (const e of resend) {
        if (e.sends > 0) this.republished++;
        this.send(ch, e);
      }
      if (resend.length > 0)
        this.opts.logger.info({ count: resend.length }, 'published messages held over a reconnect');
    });
  }

  /** Publishes one message and resolves when the broker has confirmed it. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish = {}): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('publisher closed'));
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = { exchange, routingKey, content, options, resolve, reject, timer: null, sends: 0 };
      // The channel exists from its attach hook on: publishing need not wait for later hooks.
      if (this.channel) {
        this.send(this.channel, entry);
      } else {
        const waitMs = this.opts.waitForConnectionMs ?? 5_000;
        entry.timer = setTimeout(() => {
          if (!this.waiting.delete(entry)) return;
          reject(new BrokerUnavailableError(`broker not reachable within ${waitMs} ms`));
          if (this.pending === 0) this.onDrained?.();
        }, waitMs);
        this.waiting.add(entry);
      }
    });
  }

  /** Publishes only if connected now, without waiting or re-publishing (heartbeats). */
  publishIfConnected(exchange: string, routingKey: string, content: Buffer, options: Options.Publish = {}): boolean {
    if (!this.channel || this.closed) return false;
    try {
      this.channel.publish(exchange, routingKey, content, options, () => undefined);
      return true;
    } catch {
      return false;
    }
  }

  /** Messages accepted but not yet confirmed. */
  get pending(): number {
    return this.waiting.size + this.inFlight.size;
  }

  private send(ch: ConfirmChannel, e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    e.sends++;
    this.inFlight.add(e);
    try {
      ch.publish(e.exchange, e.routingKey, e.content, e.options, (err) => {
        if (!this.inFlight.has(e)) return;
        if (err && err.message === 'message nacked') {
          this.settled(e);
          e.reject(new PublishNackedError(`broker nacked publish to ${e.exchange}/${e.routingKey}`));
        } else if (!err) {
          this.settled(e);
          e.resolve();
        }
        // Any other error is the channel closing: the entry stays in flight and is re-published.
      });
    } catch (err) {
      // The channel is closing under us; keep the entry for the next connection.
      this.opts.logger.debug({ err: (err as Error).message }, 'publish on a closing channel; will re-publish');
    }
  }

  private settled(e: Entry): void {
    this.inFlight.delete(e);
    if (this.pending === 0) this.onDrained?.();
  }

  private onChannelClosed(ch: ConfirmChannel): void {
    if (this.channel === ch) this.channel = null;
  }

  /**
   * Stops accepting publishes. Waits up to `drainMs` for messages in flight to be confirmed, then
   * fails whatever is left with {@link ClosedError}.
   */
  async close(drainMs = 2_000): Promise<void> {
    this.closed = true;
    if (this.pending > 0 && drainMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onDrained = resolve;
        timer = setTimeout(resolve, drainMs);
      });
      clearTimeout(timer);
      this.onDrained = null;
    }
    for (const e of [...this.waiting, ...this.inFlight]) {
      if (e.timer) clearTimeout(e.timer);
      e.reject(new ClosedError('publisher closed before the broker confirmed'));
    }
    this.waiting.clear();
    this.inFlight.clear();
    const ch = this.channel;
    this.channel = null;
    await ch?.close().catch(() => undefined);
  }
}
