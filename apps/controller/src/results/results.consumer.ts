import { Inject, Injectable } from '@nestjs/common';
import { Consumer, type Delivery } from '@warren/amqp';
import { CONTROLLER_QUEUE_DELIVERY_LIMIT, resultsQueue } from '@warren/protocol';
import { type BackoffOptions, backoffDelay, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { ChunkSender } from '../files/chunk.sender';
import { isStoreUnavailable } from '../store/store-errors';
import { STORES } from '../store/store.module';
import type { Stores } from '../store/stores';
import type { InvocationUpdate } from '../store/task-store.port';
import { TaskAudit } from '../tasks/task-audit.service';
import { ReplyVerifier } from './reply.verifier';
import { ResultsWriter } from './results.writer';

/** ms a probe of the store may take before it counts as failed */
const PING_TIMEOUT_MS = 5_000;

/** `p`, or a rejection once `ms` have passed. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Most replies stored in one transaction. */
const MAX_BATCH = 500;
/** Replies whose signature is checked in one turn of the event loop. */
const VERIFY_SLICE = 50;

/** Resolves after the I/O callbacks (and timers) already due have run. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Pause before replies the store could not take go back to the queue: 0.5–1 s after the first
 * failure, doubling to 2.5–5 s while the database stays away, so a controller does not spin on it
 * (the replies it holds meanwhile fill its prefetch, so nothing new comes either), and yet stores
 * them within 5 s of its return: every batch in flight fails at once in an outage, so the count of
 * failures climbs fast, and a longer cap would hold results back long after the database is back
 * (the deadline sweeper waits this long before judging anything, see `DeadlineSweeper`).
 */
export const STORE_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 5_000 };

/**
 * Consumes `started`, `result` and `interrupted` (an agent's restart report) replies from the durable results queue and stores them, many per
 * transaction; each message is acked only after the transaction holding it has committed, so a
 * controller crash loses nothing (the broker redelivers, and storing is idempotent).
 *
 * A reply is believed only when {@link ReplyVerifier} says so; anything else is dropped. An
 * agent's `rejected` answers are audited ({@link TaskAudit}). Storing and announcing a batch is
 * {@link ResultsWriter}'s. Live output is not stored: it reaches SSE clients through the events
 * stream, where the broker copies every reply (docs/streaming.md); here an `output` is only acked.
 */
@Injectable()
export class ResultsConsumer {
  private consumer: Consumer | null = null;
  private batch: Delivery[] = [];
  private scheduled = false;
  /**
   * The flushes, one after the other: replies are stored in the order read,
   * and shutdown waits for the last one.
   */
  private flushing: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    private readonly verifier: ReplyVerifier,
    private readonly writer: ResultsWriter,
    private readonly audit: TaskAudit,
    @Inject(ROOT_LOGGER) root: Logger,
    /** to learn when the database answers again after an outage */
    @Inject(STORES) private readonly stores: Pick<Stores, 'ping'>,
    private readonly chunks: ChunkSender,
  ) {
    this.log = root.child({ component: 'results' });
  }

  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: resultsQueue(this.config.namespace),
      prefetch: 2 * MAX_BATCH,
      logger: this.log,
      handler: (d) => this.enqueue(d),
    });
    await this.consumer.start();
  }

  /** batches taken and not yet stored (or failed) */
  private unstored = 0;

  /**
   * Group commit: while a batch is being stored, what arrives waits and goes in the next batch,
   * taken when that store ends (or at once, at {@link MAX_BATCH}); so under load each transaction
   * takes hundreds of replies rather than the few read in one tick, and a store that is a network
   * round trip away (PostgreSQL) is not asked for one small transaction after another.
   */
  private enqueue(d: Delivery): void {
    this.batch.push(d);
    if (this.batch.length >= MAX_BATCH) void this.flush();
    else if (this.unstored === 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  /** Takes everything received so far and stores it after the flushes before it; resolves when it is acked. */
  private flush(): Promise<void> {
    this.scheduled = false;
    const batch = this.batch;
    this.batch = [];
    if (batch.length > 0) {
      this.unstored++;
      this.flushing = this.flushing.then(async () => {
        // A turn of the event loop between batches: stored back to back in microtasks, a backlog
        // of replies would hold it (and /healthz, publishing, other requests) for seconds.
        await yieldToEventLoop();
        await this.storeBatch(batch).catch((err: Error) => {
          // A read of the store failed before the write: put back what is not settled.
          this.storeFailed(batch, err, 'reading the store failed');
        });
        // What came in meanwhile is the next batch, taken now that this one is done.
        if (--this.unstored === 0 && this.batch.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(() => void this.flush());
        }
      });
    }
    return this.flushing;
  }

  /**
   * Decodes, stores and acks one batch: each reply is acked only once the store has committed it;
   * a failure to store puts the replies back on the queue.
   */
  private async storeBatch(batch: Delivery[]): Promise<void> {
    const updates: InvocationUpdate[] = [];
    const accepted: Delivery[] = [];
    /** tasks whose invocations these replies may change */
    const touched = new Set<string>();
    // Ed25519 checks, VERIFY_SLICE per turn of the event loop (a batch of 500 is 50-100 ms of CPU).
    const verified: { d: Delivery; m: ReturnType<ReplyVerifier['verify']> }[] = [];
    for (let i = 0; i < batch.length; i += VERIFY_SLICE) {
      if (i > 0) await yieldToEventLoop();
      for (const d of batch.slice(i, i + VERIFY_SLICE)) verified.push({ d, m: this.verifier.verify(d) });
    }
    for (const { d, m } of verified) {
      if (!m) {
        d.reject(false);
        continue;
      }
      accepted.push(d);
      // Live only, never stored: the SSE sessions read it from the events stream (a copy of each reply).
      if (m.kind === 'output') continue;
      // A request for a put's or stdin's chunks changes no state: the chunk sender serves it.
      if (m.kind === 'ready') {
        void this.chunks.ready(m);
        continue;
      }
      touched.add(m.taskId);
      if (m.kind === 'started') {
        updates.push({
          kind: 'started',
          invocationId: m.invocationId,
          host: m.host,
          startedAt: m.startedAt,
          resultGraceMs: this.config.resultGraceMs,
        });
        continue;
      }
      if (m.kind === 'interrupted') {
        const { invocationId, host, reason, reportedAt: at } = m;
        updates.push({ kind: 'interrupted', invocationId, host, reason, at });
        this.log.warn(
          { taskId: m.taskId, host, correlationId: invocationId, state: 'lost', reason },
          'agent restarted before the invocation ended',
        );
        continue;
      }
      if (m.state === 'rejected') await this.audit.agentRejected(m);
      if (!this.verifier.changesInvocation(m)) continue;
      updates.push(m); // a result message is itself a `result` update: its outcome plus ids
      this.log.info(
        {
          taskId: m.taskId,
          host: m.host,
          correlationId: m.invocationId,
          state: m.state,
          exitCode: m.exitCode,
          durationMs: m.durationMs,
          code: m.code,
        },
        'invocation finished',
      );
    }
    if (updates.length === 0) {
      for (const d of accepted) d.ack();
      return;
    }
    try {
      const completed = await this.writer.commit(updates);
      this.failures = 0;
      for (const d of accepted) d.ack();
      this.writer.announce(touched, completed);
    } catch (err) {
      // Not stored, so not acked: they go back to the queue.
      this.storeFailed(accepted, err as Error, 'storing replies failed');
    }
  }

  /**
   * Replies this controller could not store. When the database is away (see `isStoreUnavailable`)
   * they go back to the queue at once and this controller stops taking results until the database
   * answers again ({@link awaitStore}): the broker then gives them to the controllers that can store
   * them (or keeps them, if none can), instead of this one holding up to its prefetch of them
   * while the others' deadline sweepers, which do reach the database, judge those invocations lost.
   * Any other failure puts them back after a growing pause ({@link STORE_RETRY}).
   */
  private storeFailed(deliveries: Delivery[], err: Error, what: string): void {
    if (!isStoreUnavailable(err) || this.stopped) {
      this.log.error({ err: err.message, count: deliveries.length }, `${what}; requeueing`);
      this.requeueLater(deliveries);
      return;
    }
    for (const d of deliveries) this.giveBack(d);
    if (this.storeAway) return;
    this.storeAway = true;
    this.log.warn(
      { err: err.message, count: deliveries.length },
      `${what}: the database is away; this controller takes no results until it answers (they wait in the queue, or go to another controller)`,
    );
    void this.consumer?.pause();
    this.awaitStore(0);
  }

  /** true while the database is away: the consumer is paused, and a probe of the store is scheduled */
  private storeAway = false;
  private probe: NodeJS.Timeout | null = null;

  /**
   * Pings the store after the `attempt`-th {@link STORE_RETRY} pause; resumes consuming once it
   * answers. A ping that has not answered within {@link PING_TIMEOUT_MS} counts as failed (a
   * connection whose packets are silently dropped would otherwise hold the probe for minutes).
   */
  private awaitStore(attempt: number): void {
    if (this.stopped) return;
    this.probe = setTimeout(
      () => {
        this.probe = null;
        withTimeout(this.stores.ping(), PING_TIMEOUT_MS).then(
          async () => {
            if (!this.storeAway || this.stopped) return;
            this.storeAway = false;
            this.log.info({ afterProbes: attempt + 1 }, 'the database answers again: taking results');
            // A channel lost meanwhile rejects the subscribe; the next connect subscribes (not paused).
            await this.consumer
              ?.resume()
              .catch((err: Error) => this.log.warn({ err: err.message }, 'taking results again at the next connect'));
          },
          () => this.storeAway && this.awaitStore(attempt + 1),
        );
      },
      backoffDelay(attempt, STORE_RETRY),
    );
    this.probe.unref();
  }

  /** set by {@link stop}: no pause, probe or resume after it */
  private stopped = false;

  /** consecutive batches the store failed to take: the pause before the next goes back grows with it */
  private failures = 0;

  /** Puts back on the queue, after the {@link STORE_RETRY} pause, the deliveries not settled yet. */
  private requeueLater(deliveries: Delivery[]): void {
    const ms = backoffDelay(this.failures++, STORE_RETRY);
    setTimeout(() => deliveries.forEach((d) => this.giveBack(d)), ms).unref();
  }

  /**
   * Puts one reply back on the queue, if not settled yet. A quorum results queue drops a reply
   * given back past its `x-delivery-limit` ({@link CONTROLLER_QUEUE_DELIVERY_LIMIT}) without a
   * word to any consumer; its `x-delivery-count` header (returns so far, set by quorum queues
   * only) shows when this return is that one, and the controller says so first, the only trace
   * the drop leaves (docs/scaling.md, "Queue type").
   */
  private giveBack(d: Delivery): void {
    if (d.settled) return;
    const returns = Number(d.properties.headers?.['x-delivery-count'] ?? 0);
    if (returns >= CONTROLLER_QUEUE_DELIVERY_LIMIT)
      this.log.error(
        { correlationId: d.properties.correlationId, returns, limit: CONTROLLER_QUEUE_DELIVERY_LIMIT },
        'giving back a reply past the results queue delivery limit: the broker drops it, and its invocation ends lost at its deadline',
      );
    d.reject(true);
  }

  /** Stops taking replies, stores and acks those received (AppModule calls it at shutdown, see there). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probe) clearTimeout(this.probe);
    this.probe = null;
    this.storeAway = false;
    await this.consumer?.cancel();
    await this.flush();
    await this.consumer?.close();
  }
}
