/** Starting a Warren installation for the benchmark: controller, real agents, simulated agents. */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import { splitBrokerUrls } from '@warren/amqp';
import {
  agentControlQueue,
  agentChunksQueue,
  agentQueue,
  agentQueueArguments,
  agentTopology,
  encode,
  eventsStream,
  generateSigningKey,
  presenceExchange,
  PROTOCOL_VERSION,
  type QueueType,
  sharedTopology,
  signBody,
  WARREN_VERSION,
} from '@warren/protocol';
import { Exposition } from '../test/prometheus-text';
import { type Bg, bin, ROOT, sleep, startBg } from './lib';

export const BROKER = process.env.WARREN_BENCH_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export class BenchWarren {
  readonly ns = `bench${randomBytes(3).toString('hex')}`;
  /** `--queue-type` of every controller, agent and simulated agent of this installation */
  readonly queueType: QueueType;
  readonly dir = mkdtempSync(join(tmpdir(), 'warren-bench-'));
  /** the first controller's base URL */
  url = '';
  /** written by the first controller on its first start; every agent trusts it */
  readonly controllerPub = join(this.dir, 'controller.pub');
  /** every controller started, in order, each with its base URL */
  readonly controllers: { bg: Bg; url: string }[] = [];
  readonly agents = new Map<string, Bg>();
  private readonly hosts = new Set<string>();
  private readonly others: Bg[] = [];

  /** an admin API token for this installation, created through the first controller's store */
  token = '';

  /** `--broker` of every process of this installation: one URL, or a cluster's nodes as a comma list */
  readonly broker: string;

  /**
   * `queueType`: `--queue-type` of every process (default classic); `broker`: their `--broker`
   * (default {@link BROKER}), e.g. every node of a private cluster, comma-separated;
   * `controllerNodeArgs`: Node.js flags of the controllers.
   */
  constructor(opts: { queueType?: QueueType; broker?: string; controllerNodeArgs?: string[] } = {}) {
    this.queueType = opts.queueType ?? 'classic';
    this.broker = opts.broker ?? BROKER;
    this.controllerNodeArgs = opts.controllerNodeArgs ?? [];
  }

  /** Node.js flags of every controller process, e.g. `--cpu-prof --cpu-prof-dir <dir>` (written when it exits on SIGTERM) */
  readonly controllerNodeArgs: string[];

  /** A plain amqplib connection for the bench's own declares and clean-up: the first of {@link broker}'s URLs that answers. */
  private async adminConnection(): Promise<amqplib.ChannelModel> {
    let last: unknown = null;
    for (const url of splitBrokerUrls(this.broker)) {
      try {
        return await amqplib.connect(url, { noDelay: true });
      } catch (err) {
        last = err;
      }
    }
    throw new Error(`no broker of ${splitBrokerUrls(this.broker).length} answered: ${String(last)}`);
  }

  /** Headers of an authenticated JSON request. */
  headers(): Record<string, string> {
    return { 'content-type': 'application/json', authorization: `Bearer ${this.token}` };
  }

  /** The first controller's process. */
  get controller(): Bg | null {
    return this.controllers[0]?.bg ?? null;
  }

  /**
   * Starts one more controller on a port of its own, in this installation's namespace, signing with
   * the installation's one key (`<dir>/controller.key`, written by the first controller; every agent
   * trusts its `.pub`). `db`: the store (`--db`: a SQLite file or a `postgres://` URL); by default the
   * first controller keeps its own `<dir>/controller.db` and later ones share that file. The first
   * start also creates the admin token, through the same store. Throws, with the controller's last
   * output, when it exits or is not healthy within a minute: a configuration that cannot start fails
   * the bench rather than hanging it.
   */
  async startController(db?: string): Promise<void> {
    const k = this.controllers.length;
    const stateDir = k === 0 ? this.dir : join(this.dir, `c${k + 1}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const args = [
      '--port',
      '0',
      '--state-dir',
      stateDir,
      '--key',
      join(this.dir, 'controller.key'),
      ...(db !== undefined || k > 0 ? ['--db', db ?? join(this.dir, 'controller.db')] : []),
    ];
    // --auto-accept: the fleet is started by the benchmark itself, so its keys are trusted on first sight.
    const [node, script] = bin('warren-controller');
    const c = startBg([
      node,
      ...this.controllerNodeArgs,
      script,
      ...args,
      '--auto-accept',
      '--namespace',
      this.ns,
      '--queue-type',
      this.queueType,
      '--broker',
      this.broker,
    ]);
    // Default log level (info), as operators run it: one line per invocation is part of the cost.
    this.controllers.push({ bg: c, url: '' });
    const port = JSON.parse(await c.waitFor(/"controller listening"/)).port as number;
    const url = `http://127.0.0.1:${port}`;
    this.controllers[k].url = url;
    if (k === 0) this.url = url;
    await this.waitHealthy(c, url);
    // Tokens live in the store, which the token command opens beside the running controller.
    if (this.token === '') this.token = this.createToken(args.slice(2));
  }

  /** `warren-controller token create` for an admin token, with the store options of a controller. */
  private createToken(storeArgs: string[]): string {
    const [node, ...script] = bin('warren-controller');
    const made = spawnSync(node, [...script, 'token', 'create', '--name', 'bench', '--role', 'admin', ...storeArgs], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    if (made.status !== 0) throw new Error(`token create failed (${made.status ?? made.signal}): ${made.stderr}`);
    return made.stdout.trim();
  }

  private async waitHealthy(c: Bg, url: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      if (c.child.exitCode !== null) break;
      await sleep(50);
    }
    throw new Error(`controller at ${url} not healthy: ${c.output.slice(-500)}`);
  }

  /**
   * One counter of a controller's `GET /metrics`, summed over the series whose labels include
   * `labels` (0 when there is none). Used to tell which controller stored which results.
   */
  async counter(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
    const res = await fetch(`${url}/metrics`, { headers: this.headers(), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET ${url}/metrics → ${res.status}`);
    return new Exposition(await res.text()).samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0);
  }

  /**
   * Starts `n` real agent processes `prefix0001…`, a few at a time (2 cores), and waits until all are
   * online. With `isolate` (an absolute directory), each agent runs in a mount namespace of its own
   * (`unshare`, killed with it) where its own directory `<isolate>.<host>` is bind-mounted over
   * `isolate`: agents on one machine then each have their own files at the same path, as hosts do
   * (the file-copy row needs it, or the agents would find each other's copies already in place).
   */
  async startAgents(prefix: string, n: number, parallel = 8, isolate?: string): Promise<string[]> {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    if (isolate) mkdirSync(isolate, { recursive: true });
    const wrap = (h: string): string[] => {
      if (!isolate) return [];
      mkdirSync(`${isolate}.${h}`, { recursive: true });
      const script = 'mount --bind "$1" "$0" && shift && exec "$@"';
      return [
        'unshare',
        '--mount',
        '--propagation',
        'private',
        '--kill-child',
        '--',
        'sh',
        '-c',
        script,
        isolate,
        `${isolate}.${h}`,
      ];
    };
    for (let i = 0; i < names.length; i += parallel) {
      const batch = names.slice(i, i + parallel);
      for (const h of batch) {
        this.hosts.add(h);
        this.agents.set(
          h,
          startBg([
            ...wrap(h),
            ...bin('warren-agent'),
            '--host',
            h,
            '--namespace',
            this.ns,
            '--queue-type',
            this.queueType,
            '--broker',
            this.broker,
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
      '--queue-type',
      this.queueType,
      '--broker',
      this.broker,
      '--trust',
      this.controllerPub,
    ]);
    this.others.push(sim);
    this.simulators.set(prefix, sim);
    const t0 = Date.now();
    // 2,500 hosts' queues take 1-3 minutes to declare on a busy two-core machine.
    await sim.waitFor(/^ready$/m, 600_000);
    const timing = { prefix, hosts: n, readyMs: Date.now() - t0, onlineMs: 0 };
    this.simTimings.push(timing);
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    names.forEach((h) => this.hosts.add(h));
    // The controller targets only hosts whose signed heartbeat it has accepted.
    await this.waitOnline(names);
    timing.onlineMs = Date.now() - t0;
    return names;
  }

  /** each {@link startSimulated} process, by its prefix */
  private readonly simulators = new Map<string, Bg>();

  /**
   * Stops the simulator process of `prefix` (SIGKILL: it says no goodbye, so the controller keeps
   * its hosts listed until their hour-long heartbeat interval lapses; their queues go at teardown).
   */
  async stopSimulated(prefix: string): Promise<void> {
    await this.simulators.get(prefix)?.kill('SIGKILL');
    this.simulators.delete(prefix);
  }

  /** Pids of the simulator processes still running. */
  simulatorPids(): number[] {
    return this.others.filter((b) => b.child.exitCode === null).map((b) => b.child.pid!);
  }

  /**
   * Per {@link startSimulated} call: ms from its start until the simulator said `ready` (every
   * inbox declared and consumed) and until the controller listed all its hosts online.
   */
  readonly simTimings: { prefix: string; hosts: number; readyMs: number; onlineMs: number }[] = [];

  /** Declares inboxes that nobody consumes: commands to them stay in flight. */
  async declareSilentHosts(prefix: string, n: number): Promise<string[]> {
    const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}`);
    const conn = await this.adminConnection();
    const ch = await conn.createConfirmChannel();
    for (const h of names) {
      const t = agentTopology(this.ns, h, this.queueType);
      await ch.assertQueue(agentQueue(this.ns, h), {
        durable: true,
        arguments: agentQueueArguments(this.ns, this.queueType),
      });
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

  /** Waits until every controller lists every one of `hosts` as online; throws after `timeoutMs`. */
  async waitOnline(hosts: string[], timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const { url } of this.controllers) {
      let online: number;
      while ((online = await this.countOnline(url, hosts)) < hosts.length) {
        if (Date.now() > deadline)
          throw new Error(`${online} of ${hosts.length} agents online at ${url} after ${timeoutMs} ms`);
        // A list of thousands of hosts is a large answer: asked for less often, so as not to load what it measures.
        await sleep(hosts.length > 1_000 ? 1_000 : 100);
      }
    }
  }

  /** How many of `hosts` the controller at `url` lists as online. */
  private async countOnline(url: string, hosts: string[]): Promise<number> {
    const res = await fetch(`${url}/v1/hosts`, { headers: this.headers(), signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET ${url}/v1/hosts → ${res.status}: ${await res.text()}`);
    const { hosts: seen } = (await res.json()) as { hosts: { host: string; status: string }[] };
    const online = new Set(seen.filter((s) => s.status === 'online').map((s) => s.host));
    return hosts.filter((h) => online.has(h)).length;
  }

  /** The last `n` distinct lines each controller logged at warn or above (pino level ≥ 40), to say why a run failed. */
  complaints(n = 3): string[] {
    return this.controllers.flatMap(({ bg, url }) => {
      const lines = bg.output
        .split('\n')
        // Not the access log: a 503 from /healthz while a controller connects is no reason.
        .filter((l) => /^\{"level":[4-9]\d/.test(l) && !l.includes('"req":{'))
        .map((l) => l.replace(/"time":"[^"]*",|"pid":\d+,/g, '').slice(0, 300));
      return [...new Set(lines)].slice(-n).map((l) => `${url}: ${l}`);
    });
  }

  /**
   * POST a task with `wait` to `url` (default: the first controller); returns the finished task.
   * Throws unless every host succeeded (when `strict`), or when no answer came within `timeoutMs`.
   */
  async runWait(
    command: string,
    hosts: string[],
    extra: Record<string, unknown> = {},
    url = this.url,
    timeoutMs = 150_000,
    strict = true,
  ): Promise<{ summary: { byState: Record<string, number> } }> {
    const res = await fetch(`${url}/v1/tasks`, {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify({ command, hosts, wait: true, ...extra }),
      signal: AbortSignal.timeout(timeoutMs),
    }).catch((err: Error) => {
      throw new Error(`POST ${url}/v1/tasks (${hosts.length} hosts, wait): ${err.message}`);
    });
    if (res.status !== 200) throw new Error(`POST ${url} → ${res.status}: ${await res.text()}`);
    const task = (await res.json()) as { summary: { total: number; byState: Record<string, number> } };
    if (strict && (task.summary.byState.succeeded ?? 0) !== hosts.length)
      throw new Error(`not all succeeded (${url}): ${JSON.stringify(task.summary)}`);
    return task;
  }

  async teardown(): Promise<void> {
    await Promise.all([...this.agents.values(), ...this.others].map((a) => a.kill('SIGKILL')));
    await Promise.all(this.controllers.map((c) => c.bg.kill('SIGKILL')));
    const conn = await this.adminConnection();
    const queues = [
      ...sharedTopology(this.ns, this.queueType).queues.map((x) => x.name),
      // The controllers' events stream (declared by them, not in the shared topology).
      eventsStream(this.ns),
      ...[...this.hosts].flatMap((h) => [
        agentQueue(this.ns, h),
        agentControlQueue(this.ns, h),
        agentChunksQueue(this.ns, h),
      ]),
    ];
    // A channel per delete (a failed one closes its channel), 8 at a time: a quorum queue's delete
    // stops its replicas on every node, and thousands of them one by one take minutes.
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        for (let i = lane; i < queues.length; i += 8) {
          const ch = await conn.createChannel();
          // A refused delete (its node down) closes the channel with an 'error' event: not a crash.
          ch.on('error', () => undefined);
          await ch.deleteQueue(queues[i]).catch(() => undefined);
          await ch.close().catch(() => undefined);
        }
      }),
    );
    for (const e of sharedTopology(this.ns, this.queueType).exchanges) {
      const ch = await conn.createChannel();
      await ch.deleteExchange(e.name).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    await conn.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
