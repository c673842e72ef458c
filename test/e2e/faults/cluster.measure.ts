import * as amqplib from 'amqplib';
import type { RabbitCluster, RabbitNode } from '../../support/rabbit-cluster';

/** One `amqp connected` log line of a process: when (epoch ms, pino's `time`) and to which node's port. */
export interface Connected {
  time: number;
  port: number;
}

/**
 * Every `amqp connected` line in `output` (a Warren process's JSON log), in order. The URL is
 * logged with its password redacted; only its port is read.
 */
export function connectedLines(output: string): Connected[] {
  const out: Connected[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"amqp connected"')) continue;
    try {
      const j = JSON.parse(line) as { msg?: string; time?: number | string; url?: string };
      if (j.msg !== 'amqp connected' || !j.url) continue;
      out.push({
        time: typeof j.time === 'number' ? j.time : Date.parse(String(j.time)),
        port: Number(new URL(j.url).port),
      });
    } catch {
      // not a log line
    }
  }
  return out;
}

/** The node a process is connected to now, by its last `amqp connected` line; null if it never connected. */
export function currentNode(cluster: RabbitCluster, output: string): RabbitNode | null {
  const last = connectedLines(output).at(-1);
  return last ? (cluster.nodes.find((n) => n.port === last.port) ?? null) : null;
}

/** The URL list `urls` rotated to start at index `first`, so a client first connects to that node. */
export function rotated(urls: string[], first: number): string[] {
  const k = ((first % urls.length) + urls.length) % urls.length;
  return [...urls.slice(k), ...urls.slice(0, k)];
}

/** What a {@link ConfirmProbe} saw. */
export interface ProbeReport {
  /** publishes confirmed */
  confirmed: number;
  /** ms; the longest one publish waited for its confirm (the failover, as a publisher lives it) */
  longestWaitMs: number;
  /** ms from `markDown()` (the node seen gone) to the first confirm of a publish sent after it */
  downToConfirmMs: number | null;
}

/**
 * Publishes to a quorum queue led by the node about to fail, one message at a time with
 * confirms, through a node that stays up, and records how long each publish waited: "leader
 * stopped → next publish confirmed". The queue keeps at most 1,000 messages (`x-max-length`).
 */
export class ConfirmProbe {
  private conn: amqplib.ChannelModel | null = null;
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private downAt: number | null = null;
  private readonly report: ProbeReport = { confirmed: 0, longestWaitMs: 0, downToConfirmMs: null };

  private constructor(
    private readonly queue: string,
    private readonly publishUrl: string,
  ) {}

  /**
   * Declares `queue` through `leader` (RabbitMQ places a new quorum queue's leader on the node the
   * declaring client is connected to: `queue_leader_locator = client-local`, the default), checks
   * it is led there, and starts publishing through `via`.
   */
  static async start(
    cluster: RabbitCluster,
    queue: string,
    leader: RabbitNode,
    via: RabbitNode,
  ): Promise<ConfirmProbe> {
    const decl = await amqplib.connect(leader.url, { timeout: 5_000 });
    try {
      const ch = await decl.createChannel();
      await ch.assertQueue(queue, {
        durable: true,
        arguments: { 'x-queue-type': 'quorum', 'x-max-length': 1_000 },
      });
    } finally {
      await decl.close().catch(() => undefined);
    }
    const led = await cluster.leaderOf(queue);
    if (led !== leader.name) throw new Error(`probe queue ${queue} led by ${led}, not ${leader.name}`);
    const p = new ConfirmProbe(queue, via.url);
    p.conn = await amqplib.connect(p.publishUrl, { timeout: 5_000 });
    p.conn.on('error', () => undefined);
    const ch = await p.conn.createConfirmChannel();
    ch.on('error', () => undefined);
    p.running = true;
    p.loop = p.publish(ch);
    // One confirm first: the probe works before the fault.
    const until = Date.now() + 10_000;
    while (p.report.confirmed === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    if (p.report.confirmed === 0) throw new Error(`probe publishes to ${queue} are not confirmed`);
    return p;
  }

  /** Tells the probe the node is gone now (its stop or kill returned). */
  markDown(): void {
    this.downAt = Date.now();
  }

  private async publish(ch: amqplib.ConfirmChannel): Promise<void> {
    while (this.running) {
      const sentAt = Date.now();
      try {
        ch.sendToQueue(this.queue, Buffer.from(String(sentAt)), { persistent: true });
        await ch.waitForConfirms();
      } catch {
        // The channel through a surviving node should not fail; if it does, the report shows no confirms.
        return;
      }
      const now = Date.now();
      this.report.confirmed++;
      this.report.longestWaitMs = Math.max(this.report.longestWaitMs, now - sentAt);
      if (this.downAt !== null && this.report.downToConfirmMs === null && sentAt >= this.downAt)
        this.report.downToConfirmMs = now - this.downAt;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Stops publishing, closes the connection and returns what it saw. */
  async stop(): Promise<ProbeReport> {
    this.running = false;
    await this.loop;
    await this.conn?.close().catch(() => undefined);
    return { ...this.report };
  }
}

/** Median of `xs` (0 when empty). */
export function median(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
