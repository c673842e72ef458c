import type { Channel, ConsumeMessage } from '@warren/amqp';
import type { Logger } from 'pino';
import type { StreamChannels } from './stream-channels';

/** Where a reader starts: an offset, or the first message stored at or after a time. */
export type StreamStart = { offset: number } | { time: Date };

/** Options of an {@link EventsStreamReader}. */
export interface EventsStreamReaderOptions {
  channels: StreamChannels;
  /** the stream's name */
  stream: string;
  start: StreamStart;
  /** messages the broker may send ahead of the handler: bounds the memory of one reader */
  prefetch: number;
  /**
   * Handles one message, with its offset; messages are handled one at a time, in stream order,
   * each acked (credit for the next) once its handler resolves: so a handler that waits for a slow
   * client holds the reader back. A handler must not throw.
   */
  handle: (offset: number, message: ConsumeMessage) => Promise<void>;
  logger: Logger;
}

/**
 * One consumer of the events stream (`x-stream-offset`), from a start to whenever it is closed,
 * across broker reconnects: after a lost channel it subscribes again from the offset after the last
 * one handled, so nothing is handled twice or skipped. https://www.rabbitmq.com/docs/streams#consuming
 */
export class EventsStreamReader {
  private closed = false;
  private channel: Channel | null = null;
  /** offset of the last message handled, -1 before the first */
  private last = -1;
  private readonly queue: { ch: Channel; msg: ConsumeMessage }[] = [];
  private pumping = false;
  /** the consumer of the current channel is registered (the broker sends what the stream holds from here on) */
  private subscribed = false;
  /** whether a consumer was registered once since {@link start} (the broker was reachable) */
  everSubscribed = false;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: EventsStreamReaderOptions) {}

  /** Starts reading in the background. */
  start(): void {
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.closed) {
      const ch = await this.opts.channels.open(() => this.closed);
      if (!ch) return;
      if (this.closed) {
        await ch.close().catch(() => undefined);
        return;
      }
      this.channel = ch;
      const gone = new Promise<void>((resolve) => ch.once('close', () => resolve()));
      try {
        await ch.prefetch(this.opts.prefetch);
        const from = this.last >= 0 ? this.last + 1 : this.startOffset();
        await ch.consume(this.opts.stream, (msg) => msg && this.enqueue(ch, msg), {
          noAck: false,
          arguments: { 'x-stream-offset': from },
        });
        this.subscribed = true;
        this.everSubscribed = true;
      } catch (err) {
        this.opts.logger.debug({ err: (err as Error).message }, 'events stream not readable; trying again');
        await ch.close().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1_000));
        continue;
      }
      await gone;
      this.channel = null;
      this.subscribed = false;
      this.queue.length = 0; // unacked deliveries of a closed channel come again from `last + 1`
    }
  }

  private startOffset(): number | { '!': 'timestamp'; value: number } {
    const s = this.opts.start;
    // An AMQP timestamp is whole seconds: rounded down, so the start is never later than asked.
    return 'offset' in s ? s.offset : { '!': 'timestamp', value: Math.floor(s.time.getTime() / 1000) };
  }

  private enqueue(ch: Channel, msg: ConsumeMessage): void {
    this.queue.push({ ch, msg });
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const { ch, msg } = this.queue.shift()!;
        if (ch !== this.channel) continue;
        const offset = Number(msg.properties.headers?.['x-stream-offset']);
        // The broker starts at the chunk holding the offset asked for: earlier messages may come.
        if (Number.isSafeInteger(offset) && offset > this.last) {
          await this.opts
            .handle(offset, msg)
            .catch((err: Error) =>
              this.opts.logger.error({ offset, err: err.message }, 'events stream handler failed'),
            );
          this.last = offset;
        }
        if (ch === this.channel)
          try {
            ch.ack(msg);
          } catch {
            // closing: the next channel starts after `last`
          }
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * Whether the reader has read what the broker sent it: subscribed, every delivery handled, and
   * no handler waiting (on a slow client's drain, say). A stream's tail offset is not to be had
   * over AMQP 0-9-1 (a passive declare of a stream counts 0 messages), so this is the sign that
   * the reader is at the tail, short of what is in flight. False while no channel reads. A reader
   * that handles a backlog faster than the broker sends it may be idle for a moment between two
   * deliveries: a caller that must know takes two looks, apart in time.
   */
  get idle(): boolean {
    return this.subscribed && this.channel !== null && this.queue.length === 0 && !this.pumping;
  }

  /** Stops reading and closes the channel; resolves once the reader has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    await this.channel?.close().catch(() => undefined);
    await this.running;
  }
}
