import { existsSync } from 'node:fs';
import * as amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RabbitCluster, startRabbitCluster } from '../support/rabbit-cluster';

const QUEUE = 'rc.quorum';

/** The harness the RabbitMQ-cluster suites use: 3 private nodes, stopped, killed and restarted at will. */
describe('private RabbitMQ cluster harness', () => {
  let c: RabbitCluster;

  beforeAll(async () => {
    c = await startRabbitCluster();
    console.log(`[rabbit-cluster] 3-node cluster started in ${c.startMs} ms`);
  }, 120_000);
  afterAll(async () => {
    await c?.destroy();
  });

  /** Runs `fn` on a confirm channel through `url`, then closes the connection. */
  async function via<T>(url: string, fn: (ch: amqplib.ConfirmChannel) => Promise<T>): Promise<T> {
    const conn = await amqplib.connect(url, { noDelay: true, timeout: 5_000 });
    try {
      return await fn(await conn.createConfirmChannel());
    } finally {
      await conn.close().catch(() => undefined);
    }
  }

  async function publishConfirmed(url: string, body: string): Promise<void> {
    await via(url, async (ch) => {
      ch.sendToQueue(QUEUE, Buffer.from(body), { persistent: true });
      await ch.waitForConfirms();
    });
  }

  async function drain(url: string): Promise<string[]> {
    return via(url, async (ch) => {
      const out: string[] = [];
      for (let m = await ch.get(QUEUE, { noAck: true }); m; m = await ch.get(QUEUE, { noAck: true }))
        out.push(m.content.toString());
      return out;
    });
  }

  it('runs three private nodes of its own, on other ports than the shared broker, all running in one cluster', async () => {
    expect(c.nodes).toHaveLength(3);
    expect(new Set(c.nodes.map((n) => n.name)).size).toBe(3);
    expect(c.nodes.map((n) => n.port)).not.toContain(5672);
    expect(c.urls).toEqual(c.nodes.map((n) => `amqp://guest:guest@127.0.0.1:${n.port}`));
    expect(await c.runningNodes()).toEqual(c.nodes.map((n) => n.name).sort());
    // Each node itself reports all three: they joined one cluster, not three of their own.
    for (const n of c.nodes) {
      const status = JSON.parse(await n.broker.ctl('cluster_status', '--formatter', 'json'));
      expect([...status.running_nodes].sort()).toEqual(c.nodes.map((x) => x.name).sort());
    }
    expect(c.nodeOfUrl(c.urls[2]).name).toBe(c.nodes[2].name);
    expect(() => c.nodeOfUrl('amqp://guest:guest@127.0.0.1:5672')).toThrow(/no node/);
  });

  it('serves a quorum queue declared through node 1 through node 3, led by node 1', async () => {
    await via(c.urls[0], (ch) => ch.assertQueue(QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } }));
    await publishConfirmed(c.urls[0], 'one');
    expect(await c.leaderOf(QUEUE)).toBe(c.nodes[0].name);
    await expect(c.leaderOf('rc.absent')).rejects.toThrow(/not listed/);
    // A classic queue has no leader: its home is the node it was declared through.
    await via(c.urls[1], (ch) => ch.assertQueue('rc.classic', { durable: false }));
    expect(await c.leaderOf('rc.classic')).toBe(c.nodes[1].name);
    expect(await drain(c.urls[2])).toEqual(['one']);
  });

  it('keeps the queue and its messages when its leader is stopped: a publish through another node is confirmed, and the node rejoins on start', async () => {
    await publishConfirmed(c.urls[0], 'before');
    const leader = c.node(await c.leaderOf(QUEUE));
    const other = c.nodes.find((n) => n !== leader)!;
    const stoppedAt = Date.now();
    await leader.stop();
    expect(await leader.running()).toBe(false);
    await publishConfirmed(other.url, 'after');
    console.log(
      `[rabbit-cluster] leader's stop begun → a publish through another node confirmed: ${Date.now() - stoppedAt} ms`,
    );
    const newLeader = await c.leaderOf(QUEUE);
    expect(newLeader).not.toBe(leader.name);
    expect(await c.runningNodes()).toEqual(
      c.nodes
        .filter((n) => n !== leader)
        .map((n) => n.name)
        .sort(),
    );
    expect(await drain(other.url)).toEqual(['before', 'after']);
    await leader.start();
    expect(await c.runningNodes()).toEqual(c.nodes.map((n) => n.name).sort());
    await publishConfirmed(leader.url, 'back');
    expect(await drain(leader.url)).toEqual(['back']);
  });

  it('SIGKILLs every process of a node (nothing left running), and the node rejoins on start', async () => {
    const victim = c.nodes[1];
    await publishConfirmed(c.urls[0], 'kept');
    await victim.kill();
    expect(await victim.broker.pids()).toEqual([]);
    await expect(amqplib.connect(victim.url, { noDelay: true, timeout: 1_000 })).rejects.toThrow();
    expect(await c.runningNodes()).not.toContain(victim.name);
    await victim.start();
    expect(await c.runningNodes()).toEqual(c.nodes.map((n) => n.name).sort());
    expect(await drain(victim.url)).toEqual(['kept']);
  });

  // Last: it ends the file's cluster (afterAll's destroy is then the second call).
  it('destroy leaves no process of any node and removes their directories; a second call is harmless', async () => {
    expect(c.startMs).toBeGreaterThan(0);
    await c.destroy();
    for (const n of c.nodes) {
      expect(await n.broker.pids()).toEqual([]);
      expect(existsSync(n.broker.dir)).toBe(false);
      await expect(amqplib.connect(n.url, { noDelay: true, timeout: 1_000 })).rejects.toThrow();
    }
    await c.destroy();
    // The shared broker is untouched.
    const shared = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672', { timeout: 5_000 });
    await shared.close();
  });
});
