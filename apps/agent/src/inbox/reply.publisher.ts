import { randomUUID } from 'node:crypto';
import {
  APP_ID,
  encode,
  type FileChunkMessage,
  MESSAGE_TYPES,
  type OutputMessage,
  type RejectCode,
  type ReplyMessage,
  repliesExchange,
} from '@warren/protocol';
import { retryNacked } from '@warren/amqp';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';
import { AgentIdentity } from '../identity/agent.identity';
import { refusedMessage, type ReplyIds } from './reply.builder';

/**
 * Publishes `started` and `result` replies to the replies exchange with publisher confirms (and
 * live `output` chunks without them, see {@link sendLive}). A reply
 * is never lost to a broker outage: it waits for the connection (in order, so `started` still
 * precedes its `result`), is re-published after a lost confirm, and again, after a
 * `NACK_BACKOFF` delay (`@warren/amqp`), each time the broker nacks it. Sending never throws; a reply
 * that cannot be delivered (the agent shutting down) is logged. Every reply is signed with the agent's key.
 */
export class ReplyPublisher {
  private readonly outstanding = new Set<Promise<boolean>>();
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: AgentConfig,
    private readonly identity: AgentIdentity,
    private readonly clock: Clock,
    root: Logger,
  ) {
    this.log = root.child({ component: 'replies' });
  }

  /** Replies not yet confirmed by the broker. */
  get pending(): number {
    return this.outstanding.size;
  }

  /** Publishes `message` with routing key `routingKey` (the command's reply_to); resolves at once. */
  send(message: ReplyMessage, routingKey: string): void {
    void this.sendConfirmed(message, routingKey);
  }

  /**
   * As {@link send}, and resolves once the broker has confirmed it (true), or once it cannot be
   * delivered at all (false, logged). Never rejects.
   */
  sendConfirmed(message: ReplyMessage | FileChunkMessage, routingKey: string): Promise<boolean> {
    const p = this.deliver(message, routingKey).then(
      () => true,
      (err: Error) => {
        this.log.error(
          {
            err: err.message,
            correlationId: message.invocationId,
            taskId: message.taskId,
            kind: message.kind,
            state: message.kind === 'result' ? message.state : undefined,
          },
          'reply not delivered',
        );
        return false;
      },
    );
    this.outstanding.add(p);
    void p.finally(() => this.outstanding.delete(p));
    return p;
  }

  /**
   * Publishes one chunk of a fetched file (a get's `fileChunk`, signed, persistent) to
   * `routingKey` (the get's `chunkReplyTo`) like {@link sendConfirmed}: resolves true once the
   * broker confirmed it, false once it cannot be delivered. Never rejects.
   */
  sendChunk(message: FileChunkMessage, routingKey: string): Promise<boolean> {
    return this.sendConfirmed(message, routingKey);
  }

  /**
   * Publishes a live `output` chunk only if connected now: no confirm, not persistent, never held
   * over a reconnect. A lost chunk costs only liveness (the `result` carries the whole output), and
   * it goes out on the same channel as the `result` sent after it, so it cannot arrive after it.
   */
  sendLive(message: OutputMessage, routingKey: string): boolean {
    const body = encode(message);
    return this.broker.publisher.publishIfConnected(repliesExchange(this.config.namespace), routingKey, body, {
      ...this.properties(message, body),
      persistent: false,
    });
  }

  /** Waits up to `ms` for every reply sent so far to be confirmed; false if some are still pending. */
  async drain(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    const all = Promise.all([...this.outstanding]).then(() => true as const);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }

  private async deliver(message: ReplyMessage | FileChunkMessage, routingKey: string): Promise<void> {
    const body = encode(message);
    // A nack is the broker's "not now"; anything else (closed, unreachable for a day) is final.
    await retryNacked(
      async () => {
        // Only publish on a fully set-up connection; see BrokerService.whenConnected.
        if (!this.broker.connection.connected) await this.broker.whenConnected();
        // Signed, so that the controller stores only what this host's accepted key vouches for.
        await this.broker.publisher.publish(
          repliesExchange(this.config.namespace),
          routingKey,
          body,
          this.properties(message, body),
        );
      },
      {
        onNack: (err, nacks, delayMs) =>
          this.log.warn(
            { err: err.message, correlationId: message.invocationId, kind: message.kind, nacks, delayMs },
            'reply refused by the broker; publishing it again',
          ),
      },
    );
  }

  private properties(message: ReplyMessage | FileChunkMessage, body: Buffer) {
    return {
      headers: this.identity.sign(body),
      persistent: true,
      correlationId: message.invocationId,
      messageId: randomUUID(),
      type: MESSAGE_TYPES[message.kind],
      contentType: 'application/json',
      timestamp: Math.floor(this.clock.now() / 1000), // AMQP timestamps are in seconds
      appId: APP_ID,
    };
  }
}

/** The answer of an invocation that will not run: refused, failed before it started, or cancelled while waiting. */
export interface Refusal {
  ids: ReplyIds;
  state: 'rejected' | 'error' | 'cancelled';
  reason: string;
  /** routing key of the answer */
  route: string;
  code?: RejectCode;
}

/** Sends `r` as a terminal result, finished now by `clock`. */
export function sendRefusal(replies: Pick<ReplyPublisher, 'send'>, clock: Clock, r: Refusal): void {
  replies.send(refusedMessage(r.ids, r.state, r.reason, clock.now(), r.code), r.route);
}
