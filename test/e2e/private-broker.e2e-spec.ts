import { existsSync } from 'node:fs';
import * as amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../support/private-broker';

/** The harness other suites use to stop, kill and restart a broker without touching the shared one. */
describe('private broker harness', () => {
  let b: PrivateBroker;

  beforeAll(async () => {
    b = await PrivateBroker.start();
  });
  afterAll(async () => {
    await b?.destroy();
  });

  async function withChannel<T>(fn: (ch: amqplib.Channel) => Promise<T>): Promise<T> {
    const c = await amqplib.connect(b.url(), { noDelay: true });
    try {
      return await fn(await c.createChannel());
    } finally {
      await c.close().catch(() => undefined);
    }
  }

  it('runs a node of its own: own name and port, not the shared broker', async () => {
    expect(b.port).not.toBe(5672);
    expect(b.nodename).toMatch(/^warren-t-\d+-[0-9a-f]+@localhost$/);
    expect(await b.ctl('status')).toContain(b.nodename);
    expect((await b.pids()).length).toBeGreaterThan(0);
  });

  it('keeps a persistent message in a durable queue across a clean restart', async () => {
    await withChannel(async (ch) => {
      await ch.assertQueue('pb.durable', { durable: true });
      ch.sendToQueue('pb.durable', Buffer.from('kept'), { persistent: true });
      await ch.checkQueue('pb.durable');
    });
    expect(await b.ctl('list_queues', 'name', 'messages')).toMatch(/pb\.durable\s+1/);
    await b.restart();
    const body = await withChannel(async (ch) => {
      const m = await ch.get('pb.durable', { noAck: true });
      return m ? m.content.toString() : null;
    });
    expect(body).toBe('kept');
  });

  it('comes back after a SIGKILL, with nothing of the killed node left running', async () => {
    await withChannel(async (ch) => {
      await ch.assertQueue('pb.after-kill', { durable: true });
    });
    // RabbitMQ 3.x keeps queue definitions in Mnesia, whose transaction log reaches the disk
    // asynchronously: under load a SIGKILL right after the declare lost it. Sync it first.
    await b.ctl('eval', 'catch mnesia:sync_log().'); // (a no-op error where Khepri holds them)
    await b.killHard();
    expect(await b.pids()).toEqual([]);
    await expect(amqplib.connect(b.url(), { noDelay: true, timeout: 1_000 })).rejects.toThrow();
    await b.restart();
    const q = await withChannel((ch) => ch.checkQueue('pb.after-kill'));
    expect(q.queue).toBe('pb.after-kill');
  });

  // Last: it ends the file's node (afterAll's destroy is then the second call).
  it('destroy stops the node, leaves no process of it and removes its directories; a second call is harmless', async () => {
    expect(b.lastStartMs).toBeGreaterThan(0);
    expect((await b.pids()).length).toBeGreaterThan(0);
    await b.destroy();
    expect(await b.pids()).toEqual([]);
    expect(existsSync(b.dir)).toBe(false);
    await expect(amqplib.connect(b.url(), { noDelay: true, timeout: 1_000 })).rejects.toThrow();
    await b.destroy();
  });
});
