/** Starting a Warren installation for the benchmark: controller, real agents, simulated agents. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import { agentQueue, agentTopology, sharedTopology } from '@warren/protocol';
import { type Bg, bin, ROOT, sleep, startBg } from './lib';

export const BROKER = process.env.WARREN_BENCH_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export class BenchWarren {
  readonly ns = `bench${randomBytes(3).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  url = '';
  controller: Bg | null = null;
  readonly agents = new Map<string, Bg>();
  private readonly hosts = new Set<string>();
  private readonly others: Bg[] = [];

  async startController(): Promise<void> {
    const c = startBg([...bin('warren-controller'), '--port', '0', '--db', join(this.dir, 'controller.db'), '--namespace', this.ns, '--broker', BROKER], {});
    // Default log level (info), as operators run it: one line per invocation is part of the cost.
    this.controller = c;
    const port = JSON.parse(await c.waitFor(/"controller listening"/)).port as number;
    this.url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`${this.url}/healthz`).then((r) => r.ok).catch(() => false);
      if (ok) return;
      await sleep(50);
    }
    throw new Error(`controller not healthy: ${c.output.slice(-500)}`);
  }

  /** Starts `n` real agent processes `prefix0001…`, a few at a time (2 cores), and waits until all are online. */
  async startAgents(prefix: string, n: number, parallel = 8): Promise<string[]> {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += parallel) {
      const batch = names.slice(i, i + parallel);
      for (const h of batch) {
        this.hosts.add(h);
        this.agents.set(
          h,
          startBg([...bin('warren-agent'), '--host', h, '--namespace', this.ns, '--broker', BROKER, '--state-dir', join(this.dir, h)]),
        );
      }
      await this.waitOnline(batch);
    }
    return names;
  }

  /** Starts one process simulating `n` agents `prefix0001…` (answers without spawning). */
  async startSimulated(prefix: string, n: number): Promise<string[]> {
    // `node --import tsx` rather than the tsx CLI: the CLI runs the script in a grandchild that a kill would orphan.
    const sim = startBg([process.execPath, '--import', 'tsx', join(ROOT, 'bench/sim-agents.ts'), '--namespace', this.ns, '--count', String(n), '--prefix', prefix, '--broker', BROKER]);
    this.others.push(sim);
    await sim.waitFor(/^ready$/m, 120_000);
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    names.forEach((h) => this.hosts.add(h));
    return names;
  }

  /** Declares inboxes that nobody consumes: commands to them stay in flight. */
  async declareSilentHosts(prefix: string, n: number): Promise<string[]> {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    const conn = await amqplib.connect(BROKER);
    const ch = await conn.createChannel();
    for (const h of names) {
      const t = agentTopology(this.ns, h);
      await ch.assertQueue(agentQueue(this.ns, h), { durable: true, arguments: t.queues.at(-1)!.arguments });
      await ch.bindQueue(agentQueue(this.ns, h), t.exchanges[0].name, h);
      this.hosts.add(h);
    }
    await conn.close();
    return names;
  }

  async waitOnline(hosts: string[], timeoutMs = 120_000): Promise<void> {
    const want = new Set(hosts);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { hosts: seen } = (await (await fetch(`${this.url}/v1/hosts`)).json()) as { hosts: { host: string; status: string }[] };
      if ([...want].every((h) => seen.some((s) => s.host === h && s.status === 'online'))) return;
      await sleep(100);
    }
    throw new Error(`agents not online within ${timeoutMs} ms`);
  }

  /** POST a task with wait; returns the finished task. */
  async runWait(command: string, hosts: string[], extra: Record<string, unknown> = {}): Promise<{ summary: { byState: Record<string, number> } }> {
    const res = await fetch(`${this.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ command, hosts, wait: true, ...extra }),
    });
    if (res.status !== 200) throw new Error(`POST → ${res.status}: ${await res.text()}`);
    const task = (await res.json()) as { summary: { total: number; byState: Record<string, number> } };
    if ((task.summary.byState.succeeded ?? 0) !== hosts.length) throw new Error(`not all succeeded: ${JSON.stringify(task.summary)}`);
    return task;
  }

  async teardown(): Promise<void> {
    await Promise.all([...this.agents.values(), ...this.others].map((a) => a.kill('SIGKILL')));
    await this.controller?.kill('SIGKILL');
    const conn = await amqplib.connect(BROKER);
    for (const q of [...sharedTopology(this.ns).queues.map((x) => x.name), ...[...this.hosts].map((h) => agentQueue(this.ns, h))]) {
      const ch = await conn.createChannel();
      await ch.deleteQueue(q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    for (const e of sharedTopology(this.ns).exchanges) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(e.name).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    await conn.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
