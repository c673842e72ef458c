import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { backoffDelay, type BackoffOptions } from '@warren/runtime';
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
  /**
   * ms a publish handed to a channel may wait for its confirm before the channel is given up as
   * stalled and the message is published again on a fresh one; default {@link CONFIRM_TIMEOUT_MS}.
   * Time while the broker blocks the connection (`connection.blocked`) does not count.
   */
  confirmTimeoutMs?: number;
}

/**
 * ms a publish waits for its confirm before {@link ConfirmPublisher} gives its channel up as stalled
 * and publishes it again on a fresh channel. RabbitMQ confirms a persistent message once every queue
 * it was routed to has taken it (https://www.rabbitmq.com/docs/confirms#when-publishes-are-confirmed);
 * a quorum queue or stream that loses its leader node re-elects one within about a second here
 * (measured on 3.10.8), yet now and then a channel's confirm never comes, nor a nack, nor a channel
 * close. Ten seconds is far above any confirm seen on a live broker (tens of ms under load).
 */
export const CONFIRM_TIMEOUT_MS = 10_000;

/**
 * Delays between attempts at opening the successor of a nacked channel, ms: equal jitter, the cap
 * doubling from 100 ms to 5 s (as `NACK_BACKOFF`). Opening a channel fails when the
 * connection is at the broker's `channel_max` or the broker is failing over
 * (https://www.rabbitmq.com/docs/channels#channel-max); both pass, so the publisher keeps trying.
 */
export const RENEW_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

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
  /** the channel it was last handed to */
  channel: ConfirmChannel | null;
  /** fires when its confirm is overdue on `channel` ({@link PublisherOptions.confirmTimeoutMs}) */
  overdue: NodeJS.Timeout | null;
}

/**
 * Publishes with publisher confirms and never loses a message it has accepted: a publish resolves
 * when the broker confirms it, rejects when the broker nacks it, and a message whose confirm was
 * lost with the connection is published again (same properties, same message id) on the next
 * connection. Receivers must therefore be idempotent; Warren's agents and controller are.
 *
 * A publish made while disconnected waits up to `waitForConnectionMs`, then fails with
 * {@link BrokerUnavailableError} without ever being sent.
 *
 * A nack also retires the channel that brought it: later publishes go through a fresh channel on
 * the same connection, and the old one is closed once its last confirm is in. Measured on RabbitMQ
 * 3.10.8 (`test/e2e/faults/rabbit-cluster.e2e-spec.ts`): a channel whose first publish to a quorum
 * queue comes while that queue's leader node is dead and no other is elected yet nacks that
 * publish, and every later one to the queue, for as long as the channel lives, while a fresh
 * channel is confirmed at once.
 *
 * A confirm that does not come within `confirmTimeoutMs` (neither ack, nack nor channel close) has
 * the same effect as a lost connection, on the channel alone: the channel is given up, and what it
 * carried unconfirmed is published again on a fresh channel of the same connection (logged once per
 * channel given up, counted in {@link stalledChannels}).
 */
export class ConfirmPublisher {
  private channel: ConfirmChannel | null = null;
  /** the connection of the current channel, on which a nacked channel's successor is opened */
  private model: ChannelModel | null = null;
  /** a successor channel being opened after a nack (or waiting to try again) */
  private renewing = false;
  /** the wait before the next attempt at a successor channel, cleared by `close` */
  private renewTimer: NodeJS.Timeout | null = null;
  /** channels retired after a nack, closed once nothing they carried awaits a confirm */
  private readonly retired = new Set<ConfirmChannel>();
  /** channels replaced after a nack */
  renewedChannels = 0;
  /** not yet handed to a channel */
  private readonly waiting = new Set<Entry>();
  /** handed to the current channel, not yet confirmed */
  private readonly inFlight = new Set<Entry>();
  private closed = false;
  /** resolves `close`'s wait once nothing is pending */
  private onDrained: (() => void) | null = null;
  /** messages published again after a connection loss or a stalled channel */
  republished = 0;
  /** channels given up because a confirm was overdue */
  stalledChannels = 0;
  /** the broker has blocked the current connection (`connection.blocked`, a resource alarm) */
  private blocked = false;

  constructor(
    private readonly conn: AmqpConnection,
    private readonly opts: PublisherOptions,
  ) {}

  /** Attaches to the connection; call once before publishing. */
  async start(): Promise<void> {
    await this.conn.attach(async (model) => {
      const ch = await this.openChannel(model);
      this.model = model;
      // https://www.rabbitmq.com/docs/connection-blocked: nothing is confirmed while it lasts.
      this.blocked = false;
      model.on('blocked', () => {
        if (this.model === model) this.blocked = true;
      });
      model.on('unblocked', () => {
        if (this.model === model) this.blocked = false;
      });
      this.channel = ch;
      this.retired.clear(); // they went with the old connection
      if (this.renewTimer) clearTimeout(this.renewTimer); // this connection's channel replaces any successor
      this.renewTimer = null;
      this.renewing = false;
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

  private async openChannel(model: ChannelModel): Promise<ConfirmChannel> {
    const ch = await this.conn.ownedConfirmChannel(model);
    ch.on('return', (msg: ConsumeMessage) => this.opts.onReturn?.(msg as unknown as ReturnedMessage));
    ch.on('close', () => this.onChannelClosed(ch));
    return ch;
  }

  /**
   * After a nack on `ch`: retire it and open a successor on the same connection; publishes made
   * meanwhile wait for it as they would for a connection. If the connection goes first, its
   * reconnect opens the next channel instead.
   */
  private renewAfterNack(ch: ConfirmChannel): void {
    const model = this.model;
    if (this.channel !== ch || this.renewing || !model || this.closed) return;
    this.renewing = true;
    this.channel = null;
    this.retired.add(ch);
    this.closeIfIdle(ch);
    this.openSuccessor(model, 0);
  }

  /**
   * A confirm on `ch` is overdue: give `ch` up (its late answers are ignored) and publish what it
   * carried unconfirmed again, on the current channel, or on a successor opened as after a nack.
   * Time the connection spends blocked by the broker does not count: the check waits again.
   */
  private onOverdue(ch: ConfirmChannel, e: Entry): void {
    e.overdue = null;
    if (!this.inFlight.has(e) || e.channel !== ch || this.closed) return;
    // Blocked by the broker, or the connection is gone (its reconnect publishes everything again).
    if (this.blocked || (this.channel !== ch && !this.retired.has(ch) && !this.conn.connected)) {
      this.armOverdue(ch, e);
      return;
    }
    const stranded = [...this.inFlight].filter((x) => x.channel === ch);
    for (const x of stranded) {
      this.inFlight.delete(x);
      if (x.overdue) clearTimeout(x.overdue);
      x.overdue = null;
      x.channel = null;
    }
    this.stalledChannels++;
    this.opts.logger.warn(
      {
        exchange: e.exchange,
        routingKey: e.routingKey,
        waitedMs: this.confirmTimeoutMs,
        unconfirmed: stranded.length,
        stalled: this.stalledChannels,
        // the one in use, one retired after a nack and waiting for its last confirms, or one closed under us
        channel: this.channel === ch ? 'current' : this.retired.has(ch) ? 'retired' : 'closed',
      },
      'publish not confirmed in time; publishing again on a fresh channel',
    );
    // The channel in use is retired as after a nack (and closed, nothing being in flight on it now);
    // a retired one is closed here. One closed under us needs nothing.
    if (this.channel === ch) this.renewAfterNack(ch);
    else if (this.retired.delete(ch)) ch.close().catch(() => undefined);
    for (const x of stranded) {
      this.republished++;
      if (this.channel) this.send(this.channel, x);
      else this.waiting.add(x); // the successor (or the next connection) sends it
    }
  }

  private get confirmTimeoutMs(): number {
    return this.opts.confirmTimeoutMs ?? CONFIRM_TIMEOUT_MS;
  }

  private armOverdue(ch: ConfirmChannel, e: Entry): void {
    if (e.overdue) clearTimeout(e.overdue);
    e.overdue = setTimeout(() => this.onOverdue(ch, e), this.confirmTimeoutMs);
    e.overdue.unref();
  }

  /**
   * Opens the successor of a nacked channel on `model`. A failed open is tried again after
   * {@link RENEW_BACKOFF} (attempt 0, 1, … of it) for as long as `model` is the connection in use
   * and nothing else has given the publisher a channel: without a channel every publish would wait
   * `waitForConnectionMs` and fail until the connection happened to drop.
   */
  private openSuccessor(model: ChannelModel, attempt: number): void {
    this.renewTimer = null;
    if (this.model !== model || this.closed || this.channel) {
      this.renewing = false;
      return;
    }
    this.openChannel(model).then(
      (fresh) => {
        this.renewing = false;
        if (this.model !== model || this.closed || this.channel) {
          fresh.close().catch(() => undefined);
          return;
        }
        this.channel = fresh;
        this.renewedChannels++;
        this.opts.logger.info(
          { renewed: this.renewedChannels, attempts: attempt + 1 },
          'publish channel replaced after a nack',
        );
        const held = [...this.waiting];
        this.waiting.clear();
        for (const e of held) this.send(fresh, e);
      },
      (err: Error) => {
        const delayMs = backoffDelay(attempt, RENEW_BACKOFF);
        this.opts.logger.warn(
          { err: err.message, attempt: attempt + 1, retryInMs: delayMs },
          'cannot open a channel to replace a nacked one; trying again',
        );
        this.renewTimer = setTimeout(() => this.openSuccessor(model, attempt + 1), delayMs);
        this.renewTimer.unref();
      },
    );
  }

  /** Closes a retired channel once no message it carried still awaits its confirm. */
  private closeIfIdle(ch: ConfirmChannel): void {
    if (!this.retired.has(ch) || [...this.inFlight].some((e) => e.channel === ch)) return;
    this.retired.delete(ch);
    ch.close().catch(() => undefined);
  }

  /** Publishes one message and resolves when the broker has confirmed it. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish = {}): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('publisher closed'));
    return new Promise<void>((resolve, reject) => {
      const entry: Entry = {
        exchange,
        routingKey,
        content,
        options,
        resolve,
        reject,
        timer: null,
        sends: 0,
        channel: null,
        overdue: null,
      };
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
    e.channel = ch;
    this.inFlight.add(e);
    this.armOverdue(ch, e);
    try {
      ch.publish(e.exchange, e.routingKey, e.content, e.options, (err) => {
        // Not in flight, or re-sent on another channel since: this answer is stale.
        if (!this.inFlight.has(e) || e.channel !== ch) return;
        if (err && err.message === 'message nacked') {
          this.renewAfterNack(ch);
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
    if (e.overdue) clearTimeout(e.overdue);
    e.overdue = null;
    if (e.channel) this.closeIfIdle(e.channel);
    if (this.pending === 0) this.onDrained?.();
  }

  private onChannelClosed(ch: ConfirmChannel): void {
    if (this.channel === ch) this.channel = null;
    this.retired.delete(ch);
  }

  /**
   * Stops accepting publishes. Waits up to `drainMs` for messages in flight to be confirmed, then
   * fails whatever is left with {@link ClosedError}.
   */
  async close(drainMs = 2_000): Promise<void> {
    this.closed = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = null;
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
      if (e.overdue) clearTimeout(e.overdue);
      e.reject(new ClosedError('publisher closed before the broker confirmed'));
    }
    this.waiting.clear();
    this.inFlight.clear();
    const channels = [this.channel, ...this.retired];
    this.channel = null;
    this.retired.clear();
    await Promise.all(channels.map((ch) => ch?.close().catch(() => undefined)));
  }
}
