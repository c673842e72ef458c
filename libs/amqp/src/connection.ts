import { EventEmitter } from 'node:events';
import * as amqplib from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from '@warren/runtime';
import { BrokerUnavailableError, ClosedError } from './errors';
import { type AmqpLogger, redactUrl } from './logger';

/** Options of {@link AmqpConnection}. */
export interface AmqpConnectionOptions {
  /** amqp:// or amqps:// URL */
  url: string;
  /** shown in the broker's management UI as the connection name */
  name: string;
  logger: AmqpLogger;
  /** s; AMQP heartbeat, so a dead peer is noticed within about twice this */
  heartbeatSec?: number;
  /** ms; TCP connect + AMQP handshake limit */
  connectTimeoutMs?: number;
  reconnect?: BackoffOptions;
  /** PEM material for `amqps://` URLs: a private CA, and a client certificate when the broker asks for one */
  tls?: AmqpTlsOptions;
  /**
   * Asserts every exchange, queue and binding this process needs, and nothing else. Run on a
   * fresh channel after every (re)connect, before any consumer or publisher attaches; must be
   * idempotent. `conn` lets it open another channel when the broker closed the first one (a
   * declare refused for lack of permission, handled by falling back to passive checks).
   */
  setup: (channel: Channel, conn: ChannelModel) => Promise<void>;
}

/** TLS material for `amqps://`; given to `tls.connect`. Without `ca` the system's CAs are trusted. */
export interface AmqpTlsOptions {
  /** PEM CA certificate(s) the broker's certificate must chain to */
  ca?: Buffer;
  /** PEM client certificate, for brokers that verify peers */
  cert?: Buffer;
  /** PEM private key of `cert` */
  key?: Buffer;
  /** name the broker's certificate must carry, when it differs from the URL's host */
  servername?: string;
}

/** Something that (re)attaches channels to each new connection: consumers, publishers. */
export type AttachHook = (conn: ChannelModel) => Promise<void>;

/**
 * One broker connection per process, kept alive: connects with `noDelay`, heartbeats and a
 * connect timeout, runs the topology `setup`, then every attach hook; on any loss (socket,
 * heartbeat, or an owned channel closed by the broker) it reconnects with jittered exponential
 * backoff and does all of it again.
 *
 * Events: `connected` (after setup and hooks), `disconnected`, `reconnect-failed` (err, delayMs), `closed`.
 */
export class AmqpConnection extends EventEmitter {
  private model: ChannelModel | null = null;
  private ready = false;
  private closing = false;
  private loop: Promise<void> | null = null;
  private readonly hooks: AttachHook[] = [];
  private wakeSleep: (() => void) | null = null;
  /** reconnections after the first successful connect */
  reconnects = 0;
  private everConnected = false;

  constructor(private readonly opts: AmqpConnectionOptions) {
    super();
    this.setMaxListeners(100);
  }

  /** True while connected with topology asserted and every hook attached. */
  get connected(): boolean {
    return this.ready;
  }

  /** Starts connecting in the background; `waitConnected` tells when it has. */
  start(): void {
    if (!this.loop && !this.closing) this.loop = this.connectLoop();
  }

  /** Registers a hook run on every connection, in order; runs it now if already connected. */
  async attach(hook: AttachHook): Promise<void> {
    this.hooks.push(hook);
    if (this.ready && this.model) await hook(this.model);
  }

  /** Resolves once connected; rejects with {@link BrokerUnavailableError} after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    if (this.closing) return Promise.reject(new ClosedError('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('connected', onConnected);
        reject(new BrokerUnavailableError(`broker not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnected = () => {
        clearTimeout(timer);
        this.off('closed', onClosed);
        resolve();
      };
      const onClosed = () => {
        clearTimeout(timer);
        this.off('connected', onConnected);
        reject(new ClosedError('connection closed'));
      };
      this.once('connected', onConnected);
      this.once('closed', onClosed);
    });
  }

  /** Opens a channel that, if the broker closes it, takes the whole connection down for a clean reconnect. */
  async ownedChannel(conn: ChannelModel): Promise<Channel> {
    return this.guard(conn, await conn.createChannel());
  }

  /** As {@link ownedChannel}, with publisher confirms. */
  async ownedConfirmChannel(conn: ChannelModel): Promise<ConfirmChannel> {
    return this.guard(conn, await conn.createConfirmChannel());
  }

  private guard<C extends Channel>(conn: ChannelModel, ch: C): C {
    // The broker closes a channel with an error first; a close without one is ours (or the
    // connection's, handled there), and must not cost a reconnect.
    let failed = false;
    ch.on('error', (err: Error) => {
      failed = true;
      this.opts.logger.warn({ err: err.message, conn: this.opts.name }, 'amqp channel error');
    });
    ch.on('close', () => {
      if (failed && !this.closing && this.model === conn) {
        this.opts.logger.warn({ conn: this.opts.name }, 'amqp channel closed by broker; reconnecting');
        conn.close().catch(() => undefined);
      }
    });
    return ch;
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.closing) {
      let model: ChannelModel | null = null;
      try {
        model = await amqplib.connect(this.urlWithHeartbeat(), {
          ...this.opts.tls,
          noDelay: true,
          timeout: this.opts.connectTimeoutMs ?? 5_000,
          clientProperties: { connection_name: this.opts.name },
        });
        model.on('error', (err: Error) =>
          this.opts.logger.warn({ err: err.message, conn: this.opts.name }, 'amqp connection error'),
        );
        const conn = model;
        model.on('close', () => this.onClosed(conn));
        this.model = model;
        const setupChannel = await model.createChannel();
        await this.opts.setup(setupChannel, model);
        // Already closed if the broker refused something setup then worked around.
        await setupChannel.close().catch(() => undefined);
        for (const hook of this.hooks) await hook(model);
        if (this.closing) return;
        this.ready = true;
        if (this.everConnected) this.reconnects++;
        this.everConnected = true;
        this.opts.logger.info(
          { conn: this.opts.name, url: redactUrl(this.opts.url), attempt, reconnects: this.reconnects },
          'amqp connected',
        );
        this.emit('connected');
        return;
      } catch (err) {
        this.model = null;
        if (model) await model.close().catch(() => undefined);
        if (this.closing) return;
        const delayMs = backoffDelay(attempt++, this.opts.reconnect ?? DEFAULT_BACKOFF);
        this.opts.logger.warn(
          { conn: this.opts.name, url: redactUrl(this.opts.url), err: (err as Error).message, attempt, delayMs },
          'amqp connect failed; retrying',
        );
        this.emit('reconnect-failed', err, delayMs);
        await this.sleep(delayMs);
      }
    }
  }

  private onClosed(conn: ChannelModel): void {
    if (this.model !== conn) return;
    const wasReady = this.ready;
    this.ready = false;
    this.model = null;
    if (this.closing) return;
    if (wasReady) {
      this.opts.logger.warn({ conn: this.opts.name }, 'amqp connection lost; reconnecting');
      this.emit('disconnected');
    }
    // A close during setup is handled by connectLoop's catch; only a lost live connection restarts it.
    if (wasReady) this.loop = this.connectLoop();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wakeSleep = null;
        resolve();
      }, ms);
      this.wakeSleep = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private urlWithHeartbeat(): string {
    const u = new URL(this.opts.url);
    if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(this.opts.heartbeatSec ?? 10));
    return u.toString();
  }

  /** Closes the connection and stops reconnecting. Owned channels close with it. */
  async close(): Promise<void> {
    this.closing = true;
    this.ready = false;
    this.wakeSleep?.();
    const model = this.model;
    this.model = null;
    if (model) await model.close().catch(() => undefined);
    this.emit('closed');
    await this.loop?.catch(() => undefined);
    this.removeAllListeners('connected');
  }
}

/** Asserts declarations from `@warren/protocol`'s topology functions; idempotent. */
export async function assertTopology(
  channel: Channel,
  t: {
    exchanges: { name: string; type: string; durable: boolean }[];
    queues: {
      name: string;
      durable: boolean;
      arguments?: Record<string, unknown>;
      exclusive?: boolean;
      autoDelete?: boolean;
    }[];
    bindings: { queue: string; exchange: string; routingKey: string }[];
  },
): Promise<void> {
  for (const e of t.exchanges) await channel.assertExchange(e.name, e.type, { durable: e.durable });
  for (const q of t.queues) {
    await channel.assertQueue(q.name, {
      durable: q.durable,
      arguments: q.arguments,
      exclusive: q.exclusive,
      autoDelete: q.autoDelete,
    });
  }
  for (const b of t.bindings) await channel.bindQueue(b.queue, b.exchange, b.routingKey);
}
