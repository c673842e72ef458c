/**
 * What a RabbitMQ node loss costs, measured on a private 3-node cluster for the `queues` part of
 * `npm run bench` (bench/queues.ts): how long a publish to `<ns>.results` waits when the node
 * leading it is stopped or SIGKILLed, how long agents whose node died take to consume again, and
 * what an idle host's queues cost in broker memory on each node.
 */
import * as amqplib from 'amqplib';
import pino from 'pino';
import { AmqpConnection, assertTopology } from '@warren/amqp';
import {
  agentControlQueue,
  agentQueue,
  agentTopology,
  type QueueType,
  repliesExchange,
  resultsQueue,
  sharedTopology,
} from '@warren/protocol';
import type { RabbitCluster, RabbitNode } from '../test/support/rabbit-cluster';
import { sleep } from './lib';

/** ms; a publish unconfirmed this long fails the trial (a cluster that lost its majority, a bug) */
const CONFIRM_TIMEOUT_MS = 60_000;
/** ms of steady publishing before the fault, and after the node is down */
const STEADY_MS = 500;
const AFTER_MS = 2_000;

/** One failover trial: what the publisher saw. */
export interface FailoverTrial {
  /** ms; the longest any publish waited for its confirm (the one caught by the fault) */
  longestWaitMs: number;
  /** ms from the fault (stop issued, or SIGKILL) to the first confirm of a publish sent after it */
  faultToConfirmMs: number;
  /** publishes confirmed during the trial */
  confirmed: number;
}

/** Publishes one persistent message at a time to `<ns>.results` through `url`, each awaiting its confirm, until `stop()`. */
class ConfirmLoop {
  readonly samples: { sentAt: number; confirmedAt: number }[] = [];
  private running = true;
  private readonly done: Promise<void>;
  failure: Error | null = null;

  constructor(
    private readonly ch: amqplib.ConfirmChannel,
    private readonly ns: string,
  ) {
    this.done = this.loop().catch((err: Error) => {
      this.failure = err;
    });
  }

  private async loop(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const sentAt = performance.now();
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(
          () => rej(new Error(`publish unconfirmed after ${CONFIRM_TIMEOUT_MS} ms`)),
          CONFIRM_TIMEOUT_MS,
        );
        this.ch.publish(
          repliesExchange(this.ns),
          resultsQueue(this.ns),
          Buffer.from(`m${i}`),
          { persistent: true },
          (err) => {
            clearTimeout(timer);
            if (err) rej(err instanceof Error ? err : new Error(String(err)));
            else res();
          },
        );
      });
      this.samples.push({ sentAt, confirmedAt: performance.now() });
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    if (this.failure) throw this.failure;
  }
}

/** Opens a confirm channel on the first node of `nodes` that answers. */
async function confirmChannel(
  nodes: RabbitNode[],
): Promise<{ conn: amqplib.ChannelModel; ch: amqplib.ConfirmChannel }> {
  for (const n of nodes) {
    if (!(await n.running())) continue;
    const conn = await amqplib.connect(n.url, { noDelay: true }).catch(() => null);
    if (!conn) continue;
    // Failures reach the caller as rejected calls; the events would otherwise be unhandled.
    conn.on('error', () => undefined);
    const ch = await conn.createConfirmChannel();
    ch.on('error', () => undefined);
    return { conn, ch };
  }
  throw new Error('no node of the cluster answers');
}

/**
 * Quorum `<ns>.results` (declared as the controller declares it); per trial, its leader is stopped
 * (`how: 'stop'`, `rabbitmqctl stop`) or SIGKILLed while a client on another node publishes to it
 * one message at a time; the node is started again before the next trial. Also checks that every
 * confirmed message is in the queue at the end (`lost`).
 */
export async function failoverTrials(
  cluster: RabbitCluster,
  ns: string,
  how: 'stop' | 'kill',
  trials: number,
): Promise<{ trials: FailoverTrial[]; lost: number }> {
  const admin = await confirmChannel(cluster.nodes);
  await assertTopology(admin.ch, sharedTopology(ns, 'quorum'));
  await admin.conn.close();
  const out: FailoverTrial[] = [];
  for (let t = 0; t < trials; t++) {
    const victim = cluster.node(await cluster.leaderOf(resultsQueue(ns)));
    const pub = await confirmChannel(cluster.nodes.filter((n) => n !== victim));
    const loop = new ConfirmLoop(pub.ch, ns);
    await sleep(STEADY_MS);
    const fault = performance.now();
    await (how === 'stop' ? victim.stop() : victim.kill());
    await sleep(AFTER_MS);
    await loop.stop();
    await pub.conn.close();
    const first = loop.samples.find((s) => s.sentAt >= fault);
    if (!first) throw new Error(`failover (${how}): no publish confirmed after the fault`);
    out.push({
      longestWaitMs: Math.max(...loop.samples.map((s) => s.confirmedAt - s.sentAt)),
      faultToConfirmMs: first.confirmedAt - fault,
      confirmed: loop.samples.length,
    });
    await victim.start();
  }
  const depth = await queueDepth(cluster, resultsQueue(ns));
  return { trials: out, lost: out.reduce((a, t) => a + t.confirmed, 0) - depth };
}

/**
 * A classic `<ns>.results` on `home` (declared through it), its node stopped while a client on
 * another node publishes to it for {@link AFTER_MS}: returns how many publishes the broker
 * confirmed meanwhile and how many of them the queue holds once its node is back.
 */
export async function classicNodeDown(
  cluster: RabbitCluster,
  ns: string,
  home: RabbitNode,
): Promise<{ confirmedWhileDown: number; kept: number }> {
  const admin = await confirmChannel([home]);
  await assertTopology(admin.ch, sharedTopology(ns, 'classic'));
  await admin.conn.close();
  await home.stop();
  const pub = await confirmChannel(cluster.nodes.filter((n) => n !== home));
  const loop = new ConfirmLoop(pub.ch, ns);
  await sleep(AFTER_MS);
  await loop.stop();
  await pub.conn.close();
  await home.start();
  return { confirmedWhileDown: loop.samples.length, kept: await queueDepth(cluster, resultsQueue(ns)) };
}

async function queueDepth(cluster: RabbitCluster, queue: string): Promise<number> {
  const rows = JSON.parse(await cluster.ctl('list_queues', 'name', 'messages', '--formatter', 'json')) as {
    name: string;
    messages: number;
  }[];
  return rows.find((r) => r.name === queue)?.messages ?? 0;
}

/**
 * `n` simulated agents, each one real `AmqpConnection` (libs/amqp) knowing every node, `victim`
 * first, so all connect to it and declare their quorum inbox and control queue through it (which
 * so lead there) and consume both. Then `victim` is SIGKILLed; returns, per agent, ms from the kill
 * to its `connected` event (topology asserted again and both consumers attached, on another node).
 * The node is started again before returning.
 */
export async function reconnectTrial(
  cluster: RabbitCluster,
  ns: string,
  prefix: string,
  n: number,
  victim: RabbitNode,
): Promise<number[]> {
  const urls = [victim.url, ...cluster.nodes.filter((x) => x !== victim).map((x) => x.url)];
  const logger = pino({ level: 'silent' });
  const hosts = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(3, '0')}`);
  const conns = hosts.map((host) => {
    const conn = new AmqpConnection({
      url: urls,
      name: `warren-bench-reconnect ${host}`,
      logger,
      setup: (ch) => assertTopology(ch, agentTopology(ns, host, 'quorum')),
    });
    conn.attach(async (model) => {
      const ch = await conn.ownedChannel(model);
      for (const q of [agentQueue(ns, host), agentControlQueue(ns, host)]) await ch.consume(q, (m) => m && ch.ack(m));
    });
    return conn;
  });
  try {
    // A few at a time: each first connect declares two quorum queues.
    for (let i = 0; i < conns.length; i += 10) {
      conns.slice(i, i + 10).forEach((c) => c.start());
      await Promise.all(conns.slice(i, i + 10).map((c) => c.waitConnected(120_000)));
    }
    const back = conns.map((c) => new Promise<number>((res) => c.once('connected', () => res(performance.now()))));
    const t0 = performance.now();
    await victim.kill();
    const times = await Promise.race([
      Promise.all(back),
      sleep(120_000).then(() => {
        throw new Error('agents not all connected again 120 s after their node was killed');
      }),
    ]);
    return times.map((t) => t - t0);
  } finally {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await victim.start();
  }
}

/**
 * Erlang-allocated memory of every node, bytes (`rabbitmqctl status`: memory.total.erlang), after a
 * garbage collection of every process of the node, so that what is measured is what stays.
 */
async function nodeMemory(cluster: RabbitCluster): Promise<number[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      await node.broker.ctl('eval', '[erlang:garbage_collect(P) || P <- erlang:processes()], ok.');
      const status = JSON.parse(await node.broker.ctl('status', '--formatter', 'json')) as {
        memory: { total: { erlang: number } };
      };
      return status.memory.total.erlang;
    }),
  );
}

/**
 * Broker memory of idle hosts: each node's Erlang memory before and after `hosts` hosts' inbox and
 * control queue are declared (through the first node, so classic ones live there), divided by
 * `hosts`; bytes per host, per node. The queues are deleted after.
 */
export async function memoryPerHost(
  cluster: RabbitCluster,
  ns: string,
  type: QueueType,
  hosts: number,
): Promise<number[]> {
  const { conn, ch } = await confirmChannel(cluster.nodes);
  try {
    await assertTopology(ch, sharedTopology(ns, type));
    await sleep(1_000);
    const before = await nodeMemory(cluster);
    for (let i = 0; i < hosts; i++) await assertTopology(ch, agentTopology(ns, `mem${i}`, type));
    await sleep(5_000);
    const after = await nodeMemory(cluster);
    for (let i = 0; i < hosts; i++)
      for (const q of [agentQueue(ns, `mem${i}`), agentControlQueue(ns, `mem${i}`)]) await ch.deleteQueue(q);
    return after.map((a, k) => (a - before[k]) / hosts);
  } finally {
    await conn.close();
  }
}
