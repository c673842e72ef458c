import * as amqplib from 'amqplib';
import Database from 'better-sqlite3';
import { decodeReply } from '@warren/protocol';
import { until } from '../harness';

/** Messages a test has taken from a queue without acking them. */
export interface HeldMessages {
  messages: amqplib.ConsumeMessage[];
  /** Closes the channel holding them: the broker puts every one back in its queue. */
  release(): Promise<void>;
}

/**
 * Takes the messages of `queue` onto a channel of their own, unacked, so that no other consumer
 * gets them until {@link HeldMessages.release}; resolves once `enough(messages)` holds or
 * `timeoutMs` has passed, with what arrived (the caller asserts on it).
 */
export async function holdQueue(
  conn: amqplib.ChannelModel,
  queue: string,
  enough: (messages: amqplib.ConsumeMessage[]) => boolean,
  timeoutMs = 5_000,
): Promise<HeldMessages> {
  const ch = await conn.createChannel();
  const messages: amqplib.ConsumeMessage[] = [];
  await ch.consume(queue, (m) => m && messages.push(m), { noAck: false });
  await until(() => enough(messages), timeoutMs).catch(() => undefined);
  return { messages, release: () => ch.close() };
}

/**
 * The `started` and `result` replies among `messages` as sorted `<kind> <invocationId>` keys: the
 * replies a controller must commit to its store before it acks them (live `output` chunks are
 * never stored, so acking them at once is right).
 */
export function storedReplyKeys(messages: amqplib.Message[]): string[] {
  const keys: string[] = [];
  for (const m of messages) {
    const d = decodeReply(m.content);
    if (!d.ok) throw new Error(`not a reply in the results queue: ${d.reason}`);
    if (d.message.kind !== 'output') keys.push(`${d.message.kind} ${d.message.invocationId}`);
  }
  return keys.sort();
}

/**
 * Takes the SQLite write lock of the controller's store (WAL: the controller can still read) and
 * holds it until `release()`: every transaction the controller tries to commit meanwhile fails
 * with SQLITE_BUSY after its busy timeout, so that nothing it does while the lock is held is stored.
 */
export function lockStore(dbPath: string): { release(): void } {
  const db = new Database(dbPath);
  db.pragma('busy_timeout = 5000');
  db.exec('BEGIN IMMEDIATE');
  return {
    release: () => {
      if (!db.open) return;
      db.exec('ROLLBACK');
      db.close();
    },
  };
}
