import { Consumer } from '@warren/amqp';
import { agentChunksQueue, CHUNK_HEADERS } from '@warren/protocol';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { AgentConfig } from '../config/agent.config';

/** Chunks the broker may push at once: at most 8 × 512 KiB held by the agent. */
export const CHUNK_PREFETCH = 8;

/** Whoever receives the chunks of one file for one invocation (a {@link FileReceiver}). */
export interface ChunkSink {
  /** takes chunk `index`; resolves once it is written or refused; never rejects */
  accept(index: number, bytes: Buffer): Promise<void>;
}

/** Where receiving invocations register for their chunks. */
export interface ChunkRegistry {
  /** routes the chunks of (`taskId`, `sha256`) to `sink` until the returned function is called */
  register(taskId: string, sha256: string, sink: ChunkSink): () => void;
}

/**
 * Consumes the host's chunk queue (`<ns>.chunks.<host>`, prefetch {@link CHUNK_PREFETCH}) on its
 * own channel, re-subscribing after every reconnect like the inbox, and hands each chunk to the
 * transfer registered for its task and file hash (AMQP headers {@link CHUNK_HEADERS}); the chunk
 * is acked once that transfer has written (or refused) it. A chunk for no active transfer (stale,
 * for an invocation that ended, or for a host whose file was unchanged) is acked and dropped with
 * a debug line. Every delivery ends in exactly one ack.
 */
export class ChunkRouter implements ChunkRegistry {
  private readonly sinks = new Map<string, ChunkSink>();
  private consumer: Consumer | null = null;
  private readonly log: Logger;

  constructor(
    private readonly config: AgentConfig,
    private readonly broker: BrokerService,
    root: Logger,
  ) {
    this.log = root.child({ component: 'chunks' });
  }

  /** Transfers waiting for chunks now. */
  get active(): number {
    return this.sinks.size;
  }

  /** Attaches the consumer; it subscribes on every (re)connect. */
  async start(): Promise<void> {
    this.consumer = new Consumer(this.broker.connection, {
      queue: agentChunksQueue(this.config.namespace, this.config.host),
      prefetch: CHUNK_PREFETCH,
      logger: this.log,
      handler: (d) => this.handle(d),
    });
    await this.consumer.start();
  }

  register(taskId: string, sha256: string, sink: ChunkSink): () => void {
    const key = keyOf(taskId, sha256);
    this.sinks.set(key, sink);
    return () => {
      if (this.sinks.get(key) === sink) this.sinks.delete(key);
    };
  }

  /** Routes one delivery and acks it once handled. Never throws. */
  async handle(d: ChunkDelivery): Promise<void> {
    const h = (d.properties.headers ?? {}) as Record<string, unknown>;
    const task = h[CHUNK_HEADERS.task];
    const file = h[CHUNK_HEADERS.file];
    const index = Number(h[CHUNK_HEADERS.index]);
    const sink = typeof task === 'string' && typeof file === 'string' ? this.sinks.get(keyOf(task, file)) : undefined;
    try {
      if (!sink) {
        this.log.debug({ taskId: task, file, index }, 'chunk for no active transfer: dropped');
        return;
      }
      await sink.accept(index, d.content);
    } catch (err) {
      this.log.error({ taskId: task, file, index, err: (err as Error).message }, 'failed to handle a chunk; dropped');
    } finally {
      d.ack();
    }
  }

  /** Stops new deliveries (those in hand can still be acked). */
  async cancel(): Promise<void> {
    await this.consumer?.cancel();
  }

  /** Closes the consumer's channel. */
  async close(): Promise<void> {
    await this.consumer?.close();
  }
}

/** What {@link ChunkRouter.handle} reads of a delivery: a real `Delivery` is one. */
export interface ChunkDelivery {
  /** the chunk's raw bytes */
  content: Buffer;
  /** AMQP properties; only the `CHUNK_HEADERS` are read */
  properties: { headers?: Record<string, unknown> };
  ack(): void;
}

const keyOf = (taskId: string, sha256: string) => `${taskId}\n${sha256}`;
