import { EventEmitter } from 'node:events';
import * as amqplib from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import { type BackoffOptions, DEFAULT_BACKOFF } from '@warren/runtime';
import { BrokerUrlRing, connectOptionsOf, splitBrokerUrls } from './broker-urls';
import { BrokerUnavailableError, ClosedError, QueueTypeMismatchError } from './errors';
import { type AmqpLogger, redactUrl } from './logger';
import { RetryDelays } from './retry-delays';

/** Options of {@link AmqpConnection}. */
export interface AmqpConnectionOptions {
  /**
   * amqp:// or amqps:// URL; or several, as an array or separated by commas (the nodes of a
   * cluster): the first is tried first, and each failed attempt or lost connection moves to the next.
   */
  url: string | readonly string[];
  /** shown in the broker's management UI as the connection name */
  name: string;
  logger: AmqpLogger;
  /** s; AMQP heartbeat, so a dead peer is noticed within about twice this; a URL's `?heartbeat=` wins */
  heartbeatSec?: number;
  /** ms; TCP connect + AMQP handshake limit */
  connectTimeoutMs?: number;
  /** ms; bounds of the delays between attempts (see {@link RetryDelays}); default `DEFAULT_BACKOFF`, 200 ms to 10 s */
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
 * One broker connection per process, kept alive by amqplib's own connection recovery: every socket
 * with `noDelay`, heartbeats and a connect timeout; on every (re)connect amqplib runs our setup
 * hook, which asserts the topology and then runs every attach hook. Warren's own parts on top:
 * - the delays between attempts are {@link RetryDelays} (Warren's equal-jitter backoff, and an
 *   immediate first retry after losing a live connection), not amqplib's ±20% around a fixed base;
 * - several broker URLs, tried in turn ({@link BrokerUrlRing});
 * - the channel-closed rule: a channel the broker closes with an error takes the connection down
 *   for a clean reconnect ({@link ownedChannel}); a channel closed on purpose costs nothing;
 * - publishes unconfirmed when a connection is lost are sent again by `ConfirmPublisher`.
 *
 * Events:
 * - `connected` (): topology asserted and every hook attached;
 * - `disconnected` (): a live connection was lost; reconnecting;
 * - `reconnect-failed` (err: Error, delayMs: number): an attempt failed; the next one in `delayMs`;
 * - `closed` (): {@link close} was called; no more reconnects.
 */
export class AmqpConnection extends EventEmitter {
  private recovering: Promise<amqplib.RecoveringChannelModel> | null = null;
  /** the connection being set up or in use; null between connections */
  private model: ChannelModel | null = null;
  private ready = false;
  private closing = false;
  /** the setup of the attempt under way, if any; settles (never rejects) when it ends */
  private settingUp: Promise<void> = Promise.resolve();
  private readonly hooks: AttachHook[] = [];
  private readonly ring: BrokerUrlRing;
  /** what amqplib connects to; its fields are replaced before each attempt (see `rotate`) */
  private readonly target: Options.Connect;
  private readonly delays: RetryDelays;
  /** why the next attempt is scheduled: a failed attempt, or a lost live connection */
  private lastFailure: Error | null = null;
  /** reconnections after the first successful connect */
  reconnects = 0;
  private everConnected = false;
  /** the queue type mismatches already logged (their messages): each is logged once, not per attempt */
  private readonly mismatchesLogged = new Set<string>();

  constructor(private readonly opts: AmqpConnectionOptions) {
    super();
    this.setMaxListeners(100);
    this.ring = new BrokerUrlRing(splitBrokerUrls(opts.url));
    this.target = this.connectOptions(this.ring.current);
    this.delays = new RetryDelays(opts.reconnect ?? DEFAULT_BACKOFF);
  }

  /** True while connected with topology asserted and every hook attached. */
  get connected(): boolean {
    return this.ready;
  }

  /** Starts connecting in the background; `waitConnected` tells when it has. */
  start(): void {
    if (this.recovering || this.closing) return;
    this.recovering = amqplib.connect(this.target, {
      ...this.opts.tls,
      noDelay: true,
      timeout: this.opts.connectTimeoutMs ?? 5_000,
      clientProperties: { connection_name: this.opts.name },
      recovery: {
        // Resolves at once, so the listeners below are attached before the first attempt.
        waitForConnect: false,
        maxRetries: Infinity,
        calculateDelay: (attempt) => this.delays.next(attempt),
        setup: (model: ChannelModel) => this.setupConnection(model),
      },
    });
    void this.recovering.then((rm) => this.listen(rm));
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

  /**
   * The channel-closed rule. amqplib's recovery watches only the connection: a channel the broker
   * closed would stay closed (a consumer silently gone). So closing the connection is how an owned
   * channel asks for recovery; amqplib sees the close and reconnects.
   */
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

  /** amqplib's `setup` hook: topology on a fresh channel, then every attach hook. A throw fails the attempt. */
  private setupConnection(model: ChannelModel): Promise<void> {
    const run = this.runSetup(model);
    // close() waits for it, so that no attach hook runs after 'closed' has been emitted.
    this.settingUp = run.catch(() => undefined);
    return run;
  }

  private async runSetup(model: ChannelModel): Promise<void> {
    this.model = model;
    let lost = false;
    model.on('error', (err: Error) =>
      this.opts.logger.warn({ err: err.message, conn: this.opts.name }, 'amqp connection error'),
    );
    model.once('close', () => (lost = true));
    const setupChannel = await model.createChannel();
    // A declare the broker refuses closes this channel with an error, which also rejects the declare:
    // the attempt's failure is reported once, from that rejection (see onScheduled), not here too.
    setupChannel.on('error', () => undefined);
    await this.opts.setup(setupChannel, model);
    // Already closed if the broker refused something setup then worked around.
    await setupChannel.close().catch(() => undefined);
    for (const hook of this.hooks) {
      if (this.closing) throw new Error('connection closing');
      await hook(model);
    }
    // A connection lost after the hooks' last broker call would otherwise count as up, and never recover.
    if (lost) throw new Error('connection closed during setup');
  }

  private listen(rm: amqplib.RecoveringChannelModel): void {
    rm.on('connect', () => this.onConnect());
    rm.on('connect-failed', (err: Error) => this.onAttemptFailed(err));
    rm.on('disconnect', () => this.onDisconnect());
    rm.on('reconnect-scheduled', (info: { attempt: number; delay: number; error: Error }) =>
      this.onScheduled(info.attempt, info.delay),
    );
    // Connection errors are logged by setupConnection's listener on the model; amqplib re-emits them
    // here, where an 'error' without a listener would throw.
    rm.on('error', () => undefined);
    // Only a throwing calculateDelay ends amqplib's recovery (maxRetries is Infinity); RetryDelays does not throw.
    rm.on('reconnect-failed', (err: Error) =>
      this.opts.logger.error({ err: err.message, conn: this.opts.name }, 'amqp recovery gave up'),
    );
  }

  private onConnect(): void {
    if (this.closing) return;
    this.ready = true;
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    this.opts.logger.info(
      {
        conn: this.opts.name,
        url: redactUrl(this.ring.current),
        attempt: this.delays.failedAttempts,
        reconnects: this.reconnects,
      },
      'amqp connected',
    );
    this.delays.reset();
    this.emit('connected');
  }

  private onAttemptFailed(err: Error): void {
    this.model = null;
    this.lastFailure = err;
  }

  private onDisconnect(): void {
    this.ready = false;
    this.model = null;
    this.lastFailure = null;
    this.delays.lost();
    this.opts.logger.warn({ conn: this.opts.name }, 'amqp connection lost; reconnecting');
    this.emit('disconnected');
  }

  /** Before every retry: report a failed attempt, and move to the next broker URL. */
  private onScheduled(attempt: number, delayMs: number): void {
    const err = this.lastFailure;
    this.lastFailure = null;
    if (err instanceof QueueTypeMismatchError) this.reportMismatch(err, attempt, delayMs);
    else if (err) {
      this.opts.logger.warn(
        { conn: this.opts.name, url: redactUrl(this.ring.current), err: err.message, attempt, delayMs },
        'amqp connect failed; retrying',
      );
    }
    if (err) this.emit('reconnect-failed', err, delayMs);
    this.rotate();
  }

  /**
   * A queue of the other type: an operator's problem that no retry solves, so one error line per
   * distinct mismatch (queue, type found, type configured), then the retries at debug level. The
   * connection keeps retrying with backoff (not ready meanwhile), so the fix needs no restart.
   */
  private reportMismatch(err: QueueTypeMismatchError, attempt: number, delayMs: number): void {
    const fields = { conn: this.opts.name, queue: err.queue, found: err.found, configured: err.configured };
    if (this.mismatchesLogged.has(err.message)) {
      this.opts.logger.debug({ ...fields, attempt, delayMs }, 'queue type mismatch persists; retrying');
      return;
    }
    this.mismatchesLogged.add(err.message);
    this.opts.logger.error(fields, err.message);
  }

  /** Points amqplib's next attempt at the next URL; amqplib reads `target`'s fields on every attempt. */
  private rotate(): void {
    if (this.ring.urls.length === 1) return;
    Object.assign(this.target, this.connectOptions(this.ring.advance()));
  }

  private connectOptions(url: string): Options.Connect {
    return connectOptionsOf(url, this.opts.heartbeatSec ?? 10);
  }

  /** Closes the connection and stops reconnecting. Owned channels close with it. */
  async close(): Promise<void> {
    this.closing = true;
    this.ready = false;
    this.model = null;
    const rm = await this.recovering;
    await rm?.close().catch(() => undefined);
    await this.settingUp;
    this.emit('closed');
    this.removeAllListeners('connected');
  }
}
