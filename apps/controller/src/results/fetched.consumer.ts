import { Inject, Injectable } from '@nestjs/common';
import { Consumer, type Delivery } from '@warren/amqp';
import { chunkCount, FILE_CHUNK_BYTES, type FileChunkMessage, fetchedQueue } from '@warren/protocol';
import { type BackoffOptions, backoffDelay, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { MetricsService } from '../metrics/metrics.service';
import { FILE_STORE, type FileStore } from '../store/file-store.port';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { ReplyVerifier } from './reply.verifier';

/** Chunks held unacked at once: 16 × 512 KiB (base64: ×4/3) at most in memory. */
export const FETCHED_PREFETCH = 16;

/** Pause before a chunk the store could not take goes back to the queue (as the results consumer's). */
const STORE_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 5_000 };

/**
 * Consumes the chunks of fetched files (`warren fetch`) from `<ns>.fetched`: each is believed only
 * as a reply is ({@link ReplyVerifier.verifyChunk}: signed by the accepted key of the host it
 * speaks for), and only when its invocation is that host's in that task, the task is a get, and
 * the chunk fits the get's cap; then it is stored ({@link FileStore.putFetchedChunk}, a repeated
 * index kept once) and acked. Anything else is dropped (rejected, not requeued) with a logged
 * reason; a chunk the store failed to take goes back to the queue after a pause.
 */
@Injectable()
export class FetchedConsumer {
  private consumer: Consumer | null = null;
  private readonly log: Logger;
  private failures = 0;
  /** task id → the get's cap in bytes, or null when the task is not a get (tasks never change) */
  private readonly caps = new Map<string, number | null>();

  constructor(
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    private readonly verifier: ReplyVerifier,
    @Inject(FILE_STORE) private readonly files: FileStore,
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'fetched' });
  }

  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: fetchedQueue(this.config.namespace),
      prefetch: FETCHED_PREFETCH,
      logger: this.log,
      handler: (d) => this.handle(d),
    });
    await this.consumer.start();
  }

  /** Verifies, stores and acks one chunk (or drops it); never rejects. */
  async handle(d: Delivery): Promise<void> {
    const m = this.verifier.verifyChunk(d);
    if (!m) return d.reject(false);
    const ids = { taskId: m.taskId, host: m.host, correlationId: m.invocationId, index: m.index };
    let why: string | null;
    try {
      why = await this.refusal(m);
    } catch (err) {
      return this.retryLater(d, err as Error, ids);
    }
    if (why) {
      this.log.warn({ ...ids, reason: why }, 'dropped a fetched chunk');
      return d.reject(false);
    }
    try {
      const stored = await this.files.putFetchedChunk(m.invocationId, m.index, Buffer.from(m.data, 'base64'));
      this.failures = 0;
      d.ack();
      if (stored) this.metrics.fetchedChunkStored();
      this.log.debug({ ...ids, stored }, stored ? 'fetched chunk stored' : 'fetched chunk already stored');
    } catch (err) {
      this.retryLater(d, err as Error, ids);
    }
  }

  /** Why `m` must be dropped, or null when it may be stored. */
  private async refusal(m: FileChunkMessage): Promise<string | null> {
    const owner = await this.store.invocationOwner(m.invocationId);
    if (!owner || owner.taskId !== m.taskId || owner.host !== m.host)
      return "its invocation is not this host's in that task";
    let cap = this.caps.get(m.taskId);
    if (cap === undefined) {
      const task = await this.store.getTask(m.taskId);
      cap = task?.transfer?.op === 'get' ? task.transfer.maxBytes : null;
      this.caps.set(m.taskId, cap);
      if (this.caps.size > 10_000) this.caps.delete(this.caps.keys().next().value as string);
    }
    if (cap === null) return 'its task is not a get';
    const bytes = Buffer.byteLength(m.data, 'base64');
    if (bytes > FILE_CHUNK_BYTES || m.index >= Math.max(1, chunkCount(cap)))
      return `chunk ${m.index} of ${bytes} bytes is past the get's cap of ${cap} bytes`;
    return null;
  }

  private retryLater(d: Delivery, err: Error, ids: Record<string, unknown>): void {
    const ms = backoffDelay(this.failures++, STORE_RETRY);
    this.log.error({ ...ids, err: err.message, retryMs: ms }, 'storing a fetched chunk failed; requeueing');
    setTimeout(() => d.settled || d.reject(true), ms).unref();
  }

  /** Stops taking chunks; those in hand go back to the queue when the channel closes. */
  async stop(): Promise<void> {
    await this.consumer?.close();
  }
}
