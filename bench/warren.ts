/** Starting a Warren installation for the benchmark: controller, real agents, simulated agents. */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import {
  agentQueue,
  agentQueueArguments,
  agentTopology,
  encode,
  generateSigningKey,
  presenceExchange,
  PROTOCOL_VERSION,
  sharedTopology,
  signBody,
  WARREN_VERSION,
} from '@warren/protocol';
import { type Bg, bin, ROOT, sleep, startBg } from './lib';

export const BROKER = process.env.WARREN_BENCH_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export class BenchWarren {
  readonly ns = `bench${randomBytes(3).toString('hex')}`;
  readonly dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  url = '';
  /** written by the controller on first start; every agent trusts it */
  readonly controllerPub = join(this.dir, 'controller.pub');
  controller: Bg | null = null;
  readonly agents = new Map<string, Bg>();
  private readonly hosts = new Set<string>();
  private readonly others: Bg[] = [];

  /** an admin API token for this installation, created before the controller starts */
  token = '';

  /** Headers of an authenticated JSON request. */
  headers(): Record<string, string> {
    return { 'content-type': 'application/json', authorization: `Bearer ${this.token}` };
  }

  async startController(): Promise<void> {
    const made = spawnSync(
      bin('warren-controller')[0],
      [
        ...bin('warren-controller').slice(1),
        'token',
        'create',
        '--name',
        'bench',
        '--role',
        'admin',
        '--state-dir',
        this.dir,
      ],
      { encoding: 'utf8' },
    );
    if (made.status !== 0) throw new Error(`token create failed: ${made.stderr}`);
    this.token = made.stdout.trim();
    // --auto-accept: the fleet is started by the benchmark itself, so its keys are trusted on first sight.
    const c = startBg(
      [
        ...bin('warren-controller'),
        '--port',
        '0',
        '--state-dir',
        this.dir,
        '--auto-accept',
        '--namespace',
        this.ns,
        '--broker',
        BROKER,
      ],
      {},
    );
    // Default log level (info), as operators run it: one line per invocation is part of the cost.
    this.controller = c;
    const port = JSON.parse(await c.waitFor(/"controller listening"/)).port as number;
    this.url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`${this.url}/healthz`)
        .then((r) => r.ok)
        .catch(() => false);
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
          startBg([
            ...bin('warren-agent'),
            '--host',
            h,
            '--namespace',
            this.ns,
            '--broker',
            BROKER,
            '--state-dir',
            join(this.dir, h),
            '--trust',
            this.controllerPub,
            '--policy',
            join(ROOT, 'docs/examples/lab-policy.yaml'),
          ]),
        );
      }
      await this.waitOnline(batch);
    }
    return names;
  }

  /** Starts one process simulating `n` agents `prefix0001…` (answers without spawning). */
  async startSimulated(prefix: string, n: number): Promise<string[]> {
    // `node --import tsx` rather than the tsx CLI: the CLI runs the script in a grandchild that a kill would orphan.
    const sim = startBg([
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'bench/sim-agents.ts'),
      '--namespace',
      this.ns,
      '--count',
      String(n),
      '--prefix',
      prefix,
      '--broker',
      BROKER,
      '--trust',
      this.controllerPub,
    ]);
    this.others.push(sim);
    await sim.waitFor(/^ready$/m, 120_000);
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    names.forEach((h) => this.hosts.add(h));
    // The controller targets only hosts whose signed heartbeat it has accepted.
    await this.waitOnline(names);
    return names;
  }

  /** Declares inboxes that nobody consumes: commands to them stay in flight. */
  async declareSilentHosts(prefix: string, n: number): Promise<string[]> {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    const conn = await amqplib.connect(BROKER, { noDelay: true });
    const ch = await conn.createConfirmChannel();
    for (const h of names) {
      const t = agentTopology(this.ns, h);
      await ch.assertQueue(agentQueue(this.ns, h), { durable: true, arguments: agentQueueArguments(this.ns) });
      await ch.bindQueue(agentQueue(this.ns, h), t.exchanges[0].name, h);
      // Announce it once, signed with its own key, so that the controller trusts and targets it.
      const key = generateSigningKey();
      const body = encode({
        v: PROTOCOL_VERSION,
        kind: 'presence',
        host: h,
        status: 'online',
        labels: {},
        version: WARREN_VERSION,
        running: 0,
        concurrency: 1,
        intervalMs: 3_600_000,
        sentAt: Date.now(),
        publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      });
      ch.publish(presenceExchange(this.ns), '', body, { headers: signBody(body, key) });
      this.hosts.add(h);
    }
    await ch.waitForConfirms(); // else the last heartbeats may still be in the socket at close
    await conn.close();
    await this.waitOnline(names);
    return names;
  }

  async waitOnline(hosts: string[], timeoutMs = 120_000): Promise<void> {
    const want = new Set(hosts);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { hosts: seen } = (await (await fetch(`${this.url}/v1/hosts`, { headers: this.headers() })).json()) as {
        hosts: { host: string; status: string }[];
      };
      if ([...want].every((h) => seen.some((s) => s.host === h && s.status === 'online'))) return;
      await sleep(100);
    }
    throw new Error(`agents not online within ${timeoutMs} ms`);
  }

  /** POST a task with wait; returns the finished task. */
  async runWait(
    command: string,
    hosts: string[],
    extra: Record<string, unknown> = {},
  ): Promise<{ summary: { byState: Record<string, number> } }> {
    const res = await fetch(`${this.url}/v1/tasks`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ command, hosts, wait: true, ...extra }),
    });
    if (res.status !== 200) throw new Error(`POST → ${res.status}: ${await res.text()}`);
    const task = (await res.json()) as { summary: { total: number; byState: Record<string, number> } };
    if ((task.summary.byState.succeeded ?? 0) !== hosts.length)
      throw new Error(`not all succeeded: ${JSON.stringify(task.summary)}`);
    return task;
  }

  async teardown(): Promise<void> {
    await Promise.all([...this.agents.values(), ...this.others].map((a) => a.kill('SIGKILL')));
    await this.controller?.kill('SIGKILL');
    const conn = await amqplib.connect(BROKER);
    for (const q of [
      ...sharedTopology(this.ns).queues.map((x) => x.name),
      ...[...this.hosts].map((h) => agentQueue(this.ns, h)),
    ]) {
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
