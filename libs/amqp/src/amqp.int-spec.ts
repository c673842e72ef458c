import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChannelModel } from 'amqplib';
import { AmqpConnection } from './connection';
import { Consumer } from './consumer';
import { BrokerUnavailableError } from './errors';
import { ConfirmPublisher } from './publisher';

const URL = process.env.WARREN_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const log = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cuts the TCP socket under a live connection, as a network fault would. */
function cutSocket(model: ChannelModel): void {
  (model as unknown as { connection: { stream: { destroy(err: Error): void } } }).connection.stream.destroy(
    new Error('simulated network fault'),
  );
}

describe('AmqpConnection + ConfirmPublisher + Consumer against the real broker', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(reconnect = { initialMs: 50, maxMs: 200 }) {
    const queue = `amqp-test.${randomBytes(4).toString('hex')}`;
    let setups = 0;
    const models: ChannelModel[] = [];
    const conn = new AmqpConnection({
      url: URL,
      name: 'amqp-int-test',
      logger: log,
      reconnect,
      setup: async (ch) => {
        setups++;
        await ch.assertQueue(queue, { durable: false, autoDelete: false });
      },
    });
    await conn.attach(async (m) => void models.push(m));
    const received: string[] = [];
    const consumer = new Consumer(conn, {
      queue,
      prefetch: 10,
      logger: log,
      handler: (d) => {
        received.push(d.content.toString());
        d.ack();
      },
    });
    await consumer.start();
    const publisher = new ConfirmPublisher(conn, { logger: log, waitForConnectionMs: 5_000 });
    await publisher.start();
    conn.start();
    await conn.waitConnected(5_000);
    cleanups.push(async () => {
      await consumer.close();
      await publisher.close(100);
      const m = models[models.length - 1];
      if (m && conn.connected) {
        const ch = await m.createChannel().catch(() => null);
        await ch?.deleteQueue(queue).catch(() => undefined);
      }
      await conn.close();
    });
    return { conn, consumer, publisher, received, models, queue, setups: () => setups };
  }

  it('reconnects after the socket is cut, re-runs setup and consumes again', async () => {
    const { conn, publisher, received, models, queue, setups } = await setup();
    await publisher.publish('', queue, Buffer.from('before'));
    await expect.poll(() => received).toEqual(['before']);
    await sleep(100); // let the ack reach the broker, or 'before' is (rightly) redelivered
    cutSocket(models[0]);
    await expect.poll(() => conn.reconnects, { timeout: 5_000 }).toBe(1);
    expect(setups()).toBe(2);
    await publisher.publish('', queue, Buffer.from('after'));
    await expect.poll(() => received).toEqual(['before', 'after']);
  });

  it('pause stops deliveries, across a reconnect too, and resume takes them again, none lost', async () => {
    const { conn, consumer, publisher, received, models, queue } = await setup();
    await consumer.pause();
    await publisher.publish('', queue, Buffer.from('while paused'));
    await sleep(300);
    expect(received).toEqual([]);
    cutSocket(models[0]);
    await expect.poll(() => conn.reconnects, { timeout: 5_000 }).toBe(1);
    await publisher.publish('', queue, Buffer.from('after the reconnect'));
    await sleep(300);
    expect(received).toEqual([]); // still paused: the new channel did not subscribe
    await consumer.resume();
    await expect.poll(() => received).toEqual(['while paused', 'after the reconnect']);
  });

  it('does not reconnect when a channel is closed on purpose', async () => {
    const { conn, consumer, publisher, queue } = await setup();
    await consumer.close();
    await sleep(200);
    expect(conn.connected).toBe(true);
    expect(conn.reconnects).toBe(0);
    await publisher.publish('', queue, Buffer.from('still connected'));
  });

  it('holds a publish made while disconnected and sends it once the connection is back', async () => {
    const { conn, publisher, received, models, queue } = await setup({ initialMs: 600, maxMs: 1_000 });
    const down = new Promise((r) => conn.once('disconnected', r));
    cutSocket(models[0]);
    await down;
    expect(conn.connected).toBe(false);
    await publisher.publish('', queue, Buffer.from('during'));
    expect(conn.connected).toBe(true);
    await expect.poll(() => received).toEqual(['during']);
  });

  it('re-publishes a message whose confirm was lost with the connection', async () => {
    const { publisher, received, models, queue } = await setup();
    cutSocket(models[0]);
    // Handed to the dying channel in the same tick: its confirm can never arrive.
    const p = publisher.publish('', queue, Buffer.from('in-flight'));
    await p;
    await expect.poll(() => received.includes('in-flight')).toBe(true);
    expect(publisher.republished).toBe(1);
  });

  it('fails a publish with BrokerUnavailableError when no broker comes back in time, never sending it', async () => {
    const conn = new AmqpConnection({
      url: 'amqp://guest:guest@127.0.0.1:1',
      name: 'nowhere',
      logger: log,
      reconnect: { initialMs: 50, maxMs: 100 },
      setup: async () => undefined,
    });
    const publisher = new ConfirmPublisher(conn, { logger: log, waitForConnectionMs: 300 });
    await publisher.start();
    conn.start();
    await expect(publisher.publish('', 'q', Buffer.from('x'))).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(publisher.pending).toBe(0);
    await sleep(10);
    await conn.close();
  });
});

describe('AmqpConnection with several broker URLs', () => {
  it('moves to the next URL when one cannot be reached, reporting the failed one', async () => {
    const failed: string[] = [];
    const conn = new AmqpConnection({
      url: `amqp://guest:guest@127.0.0.1:1,${URL}`,
      name: 'amqp-int-rotation',
      logger: {
        debug: () => undefined,
        info: () => undefined,
        error: () => undefined,
        warn: (o: { url?: string }) => void (o.url && failed.push(o.url)),
      },
      reconnect: { initialMs: 20, maxMs: 40 },
      setup: async (ch) => void (await ch.checkExchange('amq.direct')),
    });
    conn.start();
    try {
      await conn.waitConnected(5_000);
      expect(failed).toEqual(['amqp://guest:***@127.0.0.1:1']);
    } finally {
      await conn.close();
    }
  });

  it('close() during a connection setup waits for it: no attach hook runs after closed', async () => {
    const conn = new AmqpConnection({ url: URL, name: 'amqp-int-close', logger: log, setup: async () => undefined });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const events: string[] = [];
    let entered: () => void = () => undefined;
    const inFirstHook = new Promise<void>((r) => (entered = r));
    await conn.attach(async () => {
      entered();
      await gate; // a slow attach (a consumer declaring its queue on a busy broker)
      events.push('first hook done');
    });
    await conn.attach(async () => void events.push('second hook'));
    conn.on('closed', () => events.push('closed'));
    conn.start();
    await inFirstHook;
    const closing = conn.close();
    await sleep(50);
    release();
    await closing;
    await sleep(50);
    expect(events).toEqual(['first hook done', 'closed']);
  });
});
