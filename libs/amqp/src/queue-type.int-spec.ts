import { randomBytes } from 'node:crypto';
import * as amqplib from 'amqplib';
import pino from 'pino';
import {
  agentQueue,
  agentQueueArguments,
  type QueueType,
  resultsQueue,
  sharedTopology,
  undeliveredQueue,
} from '@warren/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { queueTypeOf } from '../../../test/support/queue-type';
import { AmqpConnection } from './connection';
import { Consumer } from './consumer';
import { QueueTypeMismatchError } from './errors';
import { ConfirmPublisher } from './publisher';
import { assertTopology } from './topology';

const URL = process.env.WARREN_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** A logger whose JSON lines land in `lines`, at every level. */
function recordingLogger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l)) });
  return { logger, lines };
}

/** Declares `ns`'s shared topology of `type` directly, as a controller of that type would have. */
async function declare(ns: string, type: QueueType): Promise<void> {
  const c = await amqplib.connect(URL);
  try {
    await assertTopology(await c.createChannel(), sharedTopology(ns, type));
  } finally {
    await c.close();
  }
}

/** Deletes `ns`'s shared queues and exchanges. */
async function remove(ns: string): Promise<void> {
  const c = await amqplib.connect(URL);
  const ch = await c.createChannel();
  // Last declared first: a retry between two deletes then still fails on the first queue (the mismatch
  // already logged) rather than on the next one, which would be a new mismatch with a line of its own.
  for (const q of [...sharedTopology(ns, 'classic').queues].reverse()) await ch.deleteQueue(q.name);
  for (const e of sharedTopology(ns, 'classic').exchanges) await ch.deleteExchange(e.name);
  await c.close();
}

/** `name`'s type as the broker reports it. */
const typeOf = (name: string) => queueTypeOf(URL, name);

describe('queue types against the real broker', () => {
  const namespaces: string[] = [];
  const fresh = () => {
    const ns = `qt${randomBytes(4).toString('hex')}`;
    namespaces.push(ns);
    return ns;
  };
  afterAll(async () => {
    for (const ns of namespaces) await remove(ns);
  });

  it('publishes to and consumes from quorum queues with per-consumer prefetch, redelivering what was given back', async () => {
    const ns = fresh();
    const { logger } = recordingLogger();
    const conn = new AmqpConnection({
      url: URL,
      name: 'quorum-int-test',
      logger,
      setup: (ch) => assertTopology(ch, sharedTopology(ns, 'quorum')),
    });
    const got: string[] = [];
    const consumer = new Consumer(conn, {
      queue: resultsQueue(ns),
      prefetch: 5,
      logger,
      // The first delivery of each message is given back once: a quorum queue hands it out again.
      handler: (d) => {
        got.push(`${d.content.toString()}${d.redelivered ? '+' : ''}`);
        if (d.redelivered) d.ack();
        else d.reject(true);
      },
    });
    await consumer.start();
    const publisher = new ConfirmPublisher(conn, { logger, waitForConnectionMs: 5_000 });
    await publisher.start();
    conn.start();
    try {
      await conn.waitConnected(10_000);
      expect(await typeOf(resultsQueue(ns))).toBe('quorum');
      expect(await typeOf(undeliveredQueue(ns))).toBe('quorum');
      for (const m of ['a', 'b', 'c']) await publisher.publish('', resultsQueue(ns), Buffer.from(m));
      await expect
        .poll(() => got.filter((g) => g.endsWith('+')).sort(), { timeout: 10_000 })
        .toEqual(['a+', 'b+', 'c+']);
      expect(got.filter((g) => !g.endsWith('+')).sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await consumer.close();
      await publisher.close(100);
      await conn.close();
    }
  });

  it('recognises an agent inbox of the other type, which the broker refuses for another argument first', async () => {
    const ns = fresh();
    const inbox = (type: QueueType) => ({
      exchanges: [],
      queues: [{ name: agentQueue(ns, type), durable: true, arguments: agentQueueArguments(ns, type) }],
      bindings: [],
    });
    const c = await amqplib.connect(URL);
    c.on('error', () => undefined);
    try {
      for (const [existing, configured] of [
        ['classic', 'quorum'],
        ['quorum', 'classic'],
      ] as const) {
        // The queue named after the type it exists as, declared again with the other type's arguments.
        await assertTopology(await c.createChannel(), inbox(existing));
        const other = {
          ...inbox(configured),
          queues: [{ ...inbox(configured).queues[0], name: agentQueue(ns, existing) }],
        };
        const ch = await c.createChannel();
        ch.on('error', () => undefined);
        const err = await assertTopology(ch, other).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(QueueTypeMismatchError);
        expect(err).toMatchObject({ queue: agentQueue(ns, existing), found: existing, configured });
      }
      const ch = await c.createChannel();
      for (const t of ['classic', 'quorum']) await ch.deleteQueue(agentQueue(ns, t));
    } finally {
      await c.close();
    }
  });

  for (const [existing, configured] of [
    ['classic', 'quorum'],
    ['quorum', 'classic'],
  ] as const) {
    it(`meeting ${existing} queues with --queue-type ${configured}: one clear error line, not ready, retrying until they are gone`, async () => {
      const ns = fresh();
      await declare(ns, existing);
      const { logger, lines } = recordingLogger();
      const conn = new AmqpConnection({
        url: URL,
        name: 'mismatch-int-test',
        logger,
        reconnect: { initialMs: 20, maxMs: 50 },
        setup: (ch) => assertTopology(ch, sharedTopology(ns, configured)),
      });
      let failures = 0;
      conn.on('reconnect-failed', () => failures++);
      conn.start();
      try {
        await expect.poll(() => failures, { timeout: 15_000 }).toBeGreaterThanOrEqual(5);
        expect(conn.connected).toBe(false);
        const errors = lines.filter((l) => l.level >= 50);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ queue: resultsQueue(ns), found: existing, configured });
        expect(errors[0].msg).toContain(`queue ${resultsQueue(ns)} exists as a ${existing} queue`);
        expect(errors[0].msg).toContain('docs/scaling.md, "Queue type: classic or quorum"');
        // No stream of opaque warnings: the retries are at debug level.
        expect(lines.filter((l) => l.level === 40)).toEqual([]);
        expect(lines.filter((l) => l.msg === 'queue type mismatch persists; retrying').length).toBeGreaterThanOrEqual(
          4,
        );

        // The operator switches the installation (here: deletes its queues); the retry then succeeds.
        await remove(ns);
        await conn.waitConnected(10_000);
        expect(await typeOf(resultsQueue(ns))).toBe(configured);
        expect(lines.filter((l) => l.level >= 50)).toHaveLength(1);
      } finally {
        await conn.close();
      }
    });
  }
});
