import type { Channel, ConsumeMessage, Options } from 'amqplib';
import type { AmqpConnection } from './connection';
import type { AmqpLogger } from './logger';

/**
 * One consumed message. It ends in exactly one `ack` or `reject`; later calls are ignored, and so
 * are calls after its channel has gone (the broker has already requeued it).
 */
export class Delivery {
  private done = false;

  constructor(
    readonly message: ConsumeMessage,
    private readonly channel: Channel,
    private readonly isLive: () => boolean,
  ) {}

  get content(): Buffer {
    return this.message.content;
  }

  get properties(): ConsumeMessage['properties'] {
    return this.message.properties;
  }

  get redelivered(): boolean {
    return this.message.fields.redelivered;
  }

  /** True once acked or rejected. */
  get settled(): boolean {
    return this.done;
  }

  /** True while the channel it came on is open, so an ack would reach the broker. */
  get live(): boolean {
    return this.isLive();
  }

  ack(): void {
    if (this.done) return;
    this.done = true;
    this.settle(() => this.channel.ack(this.message));
  }

  /** Rejects; without `requeue` the broker dead-letters or drops it. */
  reject(requeue = false): void {
    if (this.done) return;
    this.done = true;
    this.settle(() => this.channel.nack(this.message, false, requeue));
  }

  private settle(send: () => void): void {
    if (!this.isLive()) return;
    try {
      send();
    } catch {
      // amqplib throws while the channel is closing (after close(), before CloseOk): the broker
      // requeues what the closed channel held, so there is nothing left to settle.
    }
  }
}

/** Options of {@link Consumer}. */
export interface ConsumerOptions {
  queue: string;
  /** unacknowledged messages the broker may push at once */
  prefetch: number;
  logger: AmqpLogger;
  /**
   * Handles one message. It must settle the delivery (now or later); if it throws or rejects
   * before doing so, the message is rejected without requeue and the reason logged.
   */
  handler: (delivery: Delivery) => void | Promise<void>;
  consumeOptions?: Options.Consume;
}

/**
 * Consumes a queue on its own channel, re-subscribing after every reconnect. `cancel` stops new
 * deliveries while leaving the channel open so that messages in hand can still be acked; `pause`
 * and `resume` do the same for a while (the channel, and what is in hand, stay as they are).
 */
export class Consumer {
  private channel: Channel | null = null;
  /** whether `channel` is still open: a delivery settled on a closed channel is a no-op */
  private channelLive: () => boolean = () => false;
  private consumerTag: string | null = null;
  /** the channel a `basic.consume` is under way on, if any: at most one subscribe per channel at a time */
  private subscribingOn: Channel | null = null;
  private cancelled = false;
  private paused = false;

  constructor(
    private readonly conn: AmqpConnection,
    private readonly opts: ConsumerOptions,
  ) {}

  async start(): Promise<void> {
    await this.conn.attach(async (model) => {
      if (this.cancelled) return;
      const ch = await this.conn.ownedChannel(model);
      await ch.prefetch(this.opts.prefetch);
      this.channel = ch;
      let open = true;
      ch.on('close', () => {
        open = false;
        if (this.channel === ch) this.channel = null;
      });
      this.channelLive = () => open;
      this.consumerTag = null;
      if (!this.paused) await this.subscribe(ch, this.channelLive);
    });
  }

  /**
   * Subscribes on `ch` unless a subscribe is already under way on it. A pause or cancel that came
   * while the broker answered (no tag to cancel yet) is applied to the new tag at once, so a paused
   * consumer never ends up consuming, nor with a second subscription nobody can cancel.
   */
  private async subscribe(ch: Channel, isLive: () => boolean): Promise<void> {
    if (this.subscribingOn === ch) return;
    this.subscribingOn = ch;
    try {
      const tag = await this.consume(ch, isLive);
      if (this.paused || this.cancelled || this.channel !== ch) await ch.cancel(tag).catch(() => undefined);
      else this.consumerTag = tag;
    } finally {
      if (this.subscribingOn === ch) this.subscribingOn = null;
    }
  }

  private async consume(ch: Channel, isLive: () => boolean): Promise<string> {
    const { consumerTag } = await ch.consume(
      this.opts.queue,
      (msg) => {
        if (!msg) {
          this.opts.logger.warn({ queue: this.opts.queue }, 'consumer cancelled by the broker');
          return;
        }
        this.dispatch(new Delivery(msg, ch, isLive));
      },
      { noAck: false, ...this.opts.consumeOptions },
    );
    return consumerTag;
  }

  /** Whether {@link pause} holds it (until {@link resume}). */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Stops new deliveries (`basic.cancel`) until {@link resume}, across reconnects too: the broker
   * gives the queue's messages to its other consumers meanwhile. Messages in hand can still be
   * settled. Idempotent.
   */
  async pause(): Promise<void> {
    if (this.paused || this.cancelled) return;
    this.paused = true;
    const ch = this.channel;
    const tag = this.consumerTag;
    this.consumerTag = null;
    if (ch && tag) await ch.cancel(tag).catch(() => undefined);
  }

  /** Takes deliveries again after {@link pause} (at once if connected, else at the next connect). Idempotent. */
  async resume(): Promise<void> {
    if (!this.paused || this.cancelled) return;
    this.paused = false;
    const ch = this.channel;
    if (ch && this.channelLive() && this.consumerTag === null) await this.subscribe(ch, this.channelLive);
  }

  private dispatch(delivery: Delivery): void {
    const fail = (err: unknown) => {
      this.opts.logger.error(
        {
          queue: this.opts.queue,
          err: (err as Error)?.message ?? String(err),
          correlationId: delivery.properties.correlationId,
        },
        'message handler failed; rejecting without requeue',
      );
      delivery.reject(false);
    };
    try {
      const r = this.opts.handler(delivery);
      if (r && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  /** Stops taking new messages; messages already delivered can still be settled. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    const ch = this.channel;
    const tag = this.consumerTag;
    this.consumerTag = null;
    if (ch && tag) await ch.cancel(tag).catch(() => undefined);
  }

  /** Cancels and closes the channel; unsettled messages go back to the queue. */
  async close(): Promise<void> {
    await this.cancel();
    const ch = this.channel;
    this.channel = null;
    this.channelLive = () => false;
    await ch?.close().catch(() => undefined);
  }
}
