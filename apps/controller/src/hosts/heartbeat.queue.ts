import { decodePresence, keyRing, parsePublicKey, verifyBody } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { FailureLog } from '../core/failure-log';

/** What the presence handler reads of a consumed message (a `Delivery` of `@warren/amqp` has it). */
export interface HeardMessage {
  content: Buffer;
  properties: { headers?: unknown };
}

/** A heartbeat as queued: the message and when it was read (ms since epoch, controller time). */
export interface Heard {
  m: HeardMessage;
  at: number;
}

/** A heartbeat queued, with what its place in the queue depends on. */
interface Queued extends Heard {
  /** its signed `sentAt` (0 when malformed) */
  sentAt: number;
  /** the host it names; null when malformed */
  host: string | null;
}

/** How a {@link HeartbeatQueue} is fed to its handler and stays small. */
export interface HeartbeatQueueOptions {
  /** heartbeats queued at most; beyond, the oldest queued is dropped (a counted warning) */
  max: number;
  /** heartbeats handed to the handler at once at most */
  maxBatch: number;
  /**
   * handles a batch of heartbeats, in the order queued, at most one per host; one batch at a time.
   * A rejection fails the whole batch (logged, nothing retried: the agents beat again)
   */
  handle: (batch: Heard[]) => Promise<void>;
  log: Logger;
  clock: Clock;
}

/**
 * The heartbeats read and not yet handled, handed to the handler in batches in the order read (the
 * replay check and key records need it), by group commit: a batch takes, on the next turn of the
 * event loop, whatever is queued (up to `maxBatch`), and while it is handled what arrives waits
 * for the next one, so under load each store transaction takes hundreds of heartbeats and an idle
 * controller still handles one at once. A batch holds one heartbeat per host: a second one of the
 * same host (another key) keeps its place for the next batch. While the store is slow or away (a blackholed database makes
 * each heartbeat wait for the connection timeout) heartbeats keep arriving, so the queue is bounded
 * two ways: a heartbeat signed with the key it announces replaces the one queued for the same
 * host and key unless it was sent earlier (only the newest of a host matters; it keeps the queued
 * one's place; a forged one does not push the genuine one out), and past
 * `max` the oldest queued is dropped. A malformed message has a slot of its own (it is rejected,
 * with its reason, when its turn comes). Handler failures and drops are each logged once, then
 * once per 30 s with a count ({@link FailureLog}).
 */
export class HeartbeatQueue {
  /** `host\npublicKey` (a malformed message: `\n<n>`) → the newest heartbeat queued of it (host: null when malformed) */
  private readonly queued = new Map<string, Queued>();
  private pumping: Promise<void> | null = null;
  /** numbers the slots of malformed messages */
  private unkeyed = 0;
  private readonly failures: FailureLog;
  private readonly drops: FailureLog;

  constructor(private readonly opts: HeartbeatQueueOptions) {
    this.failures = new FailureLog(opts.clock, opts.log, {
      failed: 'presence message not recorded',
      resumed: 'presence messages recorded again',
    });
    this.drops = new FailureLog(opts.clock, opts.log, {
      failed: 'presence queue full: dropped the oldest heartbeats not yet handled (the store is slower than they come)',
      resumed: 'presence queue emptied: heartbeats are handled as they come again',
      level: 'warn',
    });
  }

  /** Heartbeats queued and not yet being handled. */
  get size(): number {
    return this.queued.size;
  }

  /** Queues a heartbeat read at `at` (ms since epoch) and starts handling if idle. */
  push(m: HeardMessage, at: number): void {
    const decoded = decodePresence(m.content);
    let key = decoded.ok ? `${decoded.message.host}\n${decoded.message.publicKey}` : `\n${this.unkeyed++}`;
    const sentAt = decoded.ok ? decoded.message.sentAt : 0;
    const held = this.queued.get(key);
    // Only the key's holder replaces a queued heartbeat (the key is public: anyone can announce it).
    if (held && decoded.ok && !signedWith(m, decoded.message.publicKey)) key = `\n${this.unkeyed++}`;
    else if (held && held.sentAt > sentAt) return;
    this.queued.set(key, { m, at, sentAt, host: decoded.ok ? decoded.message.host : null });
    if (this.queued.size > this.opts.max) {
      const [oldest] = this.queued.keys();
      this.queued.delete(oldest);
      this.drops.failed('queue full', { max: this.opts.max });
    }
    this.pumping ??= this.pump().finally(() => (this.pumping = null));
  }

  /** Resolves once every heartbeat queued is handled. */
  async drained(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Drops what is queued (at shutdown: the agents beat again, every controller reads them) and waits for the batch being handled. */
  async stop(): Promise<void> {
    this.queued.clear();
    await this.drained();
  }

  private async pump(): Promise<void> {
    for (;;) {
      // What the same turn of the event loop reads (a burst, as the broker sends it) goes together.
      await new Promise((resolve) => setImmediate(resolve));
      const batch = this.take();
      if (batch.length === 0) break;
      try {
        await this.opts.handle(batch);
        this.failures.succeeded();
      } catch (err) {
        this.failures.failed(err, { host: batch[0].host ?? undefined, heartbeats: batch.length });
      }
    }
    this.drops.succeeded();
  }

  /**
   * Takes the next batch: the oldest queued first, one per host (malformed ones each count alone),
   * up to `maxBatch`. Looks at `4 × maxBatch` queued heartbeats at most, so a flood of keys for one
   * name costs small batches rather than a scan of the whole queue each time.
   */
  private take(): Queued[] {
    const hosts = new Set<string>();
    const batch: Queued[] = [];
    let looked = 0;
    for (const [key, q] of this.queued) {
      if (batch.length >= this.opts.maxBatch || looked++ >= 4 * this.opts.maxBatch) break;
      if (q.host !== null && hosts.has(q.host)) continue;
      if (q.host !== null) hosts.add(q.host);
      this.queued.delete(key); // deleting the entry visited keeps the Map's iteration going
      batch.push(q);
    }
    return batch;
  }
}

/** Whether `m` is signed with the key it announces (base64 SPKI DER), as the registry checks it later. */
function signedWith(m: HeardMessage, publicKey: string): boolean {
  try {
    const headers = m.properties.headers as Record<string, unknown> | undefined;
    return verifyBody(m.content, headers, keyRing([parsePublicKey(publicKey)])).ok;
  } catch {
    return false;
  }
}
