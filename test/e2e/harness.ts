import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as amqplib from 'amqplib';
import type { TaskView } from '@warren/api';
import {
  agentChunksQueue,
  agentControlQueue,
  agentQueue,
  eventNotesExchange,
  eventsStream,
  type QueueType,
  sharedTopology,
} from '@warren/protocol';
import { removeAgentCgroups } from '../support/agent-cgroups';

/** The shared broker every e2e suite uses; each run gets its own namespace on it. */
export const BROKER_URL = process.env.WARREN_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const ROOT = resolve(__dirname, '../..');
/** Agents here run as root, as in a lab: this policy allows that (and nothing else changes). */
export const LAB_POLICY = join(ROOT, 'docs/examples/lab-policy.yaml');

/** A process started by a test, with its output kept for assertions. */
export class Proc {
  output = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (b: Buffer) => (this.output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (this.output += b.toString()));
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  }
  get pid(): number {
    return this.child.pid!;
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** Resolves with the first output line matching `re` (the logs are JSON lines). */
  async waitFor(re: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const line = this.output.split('\n').find((l) => re.test(l));
      if (line) return line;
      if (!this.alive) throw new Error(`process exited before printing ${re}:\n${this.output.slice(-2000)}`);
      await sleep(25);
    }
    throw new Error(`timed out waiting for ${re}:\n${this.output.slice(-2000)}`);
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The bound on a command a test runs synchronously (`spawnSync`, `execFileSync`), in ms: a blocked
 * worker cannot fire a test's own timeout, so a hung command would hold the whole run until CI's.
 */
export const SYNC_COMMAND_MS = 120_000;

/** How a `spawnSync` ended, for an error message: `exited 3`, `killed by SIGKILL (timed out…)`. */
export function exitOf(r: { status: number | null; signal: NodeJS.Signals | null; error?: Error }): string {
  if (r.status !== null) return `exited ${r.status}`;
  return `killed by ${r.signal}${r.error ? ` (${r.error.message})` : ''}`;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function until<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 15_000,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}

/**
 * A Warren installation for one test file: its own namespace on the shared broker, its own
 * controller (random port, own SQLite file) and any number of agent processes.
 */
export class Warren {
  readonly ns = `wt${randomBytes(4).toString('hex')}`;
  /** the broker this installation's controller and agents use (a private node's URL, or a cluster's URLs separated by commas, for fault tests) */
  readonly brokerUrl: string;
  readonly dir = mkdtempSync(join(tmpdir(), 'warren-e2e-'));
  readonly dbPath = join(this.dir, 'controller.db');
  /** `--db` of its controller and of `controllerCommand`: the SQLite file by default; set before the first start to share another */
  db = this.dbPath;
  /** written by the controller on its first start; agents trust it */
  readonly controllerPublicKey = join(this.dir, 'controller.pub');
  /** the controller's signing key (tests sign their own envelopes with it) */
  readonly controllerKeyPath = join(this.dir, 'controller.key');
  controller: Proc | null = null;
  url = '';
  /** an admin API token, created before the controller first starts; `cli()` and `api()` send it by default */
  token = '';
  readonly agents = new Map<string, Proc>();
  private readonly all: Proc[] = [];
  /** `--queue-type` of its controller and agents (`WARREN_QUEUE_TYPE`; an `env` given to a start wins) */
  readonly queueType: QueueType;

  constructor(opts: { brokerUrl?: string; queueType?: QueueType } = {}) {
    this.brokerUrl = opts.brokerUrl ?? BROKER_URL;
    this.queueType = opts.queueType ?? 'classic';
  }

  /** Starts (or restarts) the controller; resolves once it listens. */
  async startController(env: Record<string, string> = {}, args: string[] = ['--auto-accept']): Promise<Proc> {
    if (!this.token) this.token = this.createToken('e2e', 'admin');
    const p = this.spawn(
      'bin/warren-controller.js',
      [
        '--port',
        '0',
        '--state-dir',
        this.dir,
        '--db',
        this.db,
        '--namespace',
        this.ns,
        '--broker',
        this.brokerUrl,
        ...args,
      ],
      {
        WARREN_RESULT_GRACE: '1s',
        WARREN_DELIVERY_GRACE: '1s',
        ...env,
      },
    );
    // A controller starts in a second or two; a loaded CI machine has taken over 15 s.
    const line = await p.waitFor(/"controller listening"/, 60_000);
    this.url = `http://127.0.0.1:${JSON.parse(line).port}`;
    await until(async () => (await fetch(`${this.url}/healthz`)).ok);
    this.controller = p;
    return p;
  }

  /**
   * Starts an agent for `host`; resolves once the controller sees it online (or at once with
   * `wait: false`). A later flag in `args` wins over the defaults (e.g. another `--state-dir`);
   * `opts.brokerUrl` replaces the installation's `--broker` (e.g. a cluster's URLs in another order);
   * `opts.entry` runs another agent script (an absolute path, e.g. an unpacked artifact's) in `opts.cwd`.
   */
  async startAgent(
    host: string,
    env: Record<string, string> = {},
    args: string[] = [],
    opts: { wait?: boolean; brokerUrl?: string; entry?: string; cwd?: string } = {},
  ): Promise<Proc> {
    const p = this.spawn(
      opts.entry ?? 'bin/warren-agent.js',
      [
        '--host',
        host,
        '--namespace',
        this.ns,
        '--broker',
        opts.brokerUrl ?? this.brokerUrl,
        '--state-dir',
        join(this.dir, `agent-${host}`),
        '--trust',
        this.controllerPublicKey,
        '--policy',
        LAB_POLICY,
        '--presence-interval',
        '1s',
        ...args,
      ],
      env,
      opts.cwd,
    );
    this.agents.set(host, p);
    if (opts.wait === false) return p;
    await until(async () => {
      const { hosts } = (await this.api('GET', '/v1/hosts')).body as { hosts: { host: string; status: string }[] };
      return hosts.some((h) => h.host === host && h.status === 'online');
    }, 20_000);
    return p;
  }

  /**
   * `warren-controller token create` on this installation's database (works whether or not the
   * controller runs); returns the token text.
   */
  createToken(name: string, role: 'admin' | 'operator' | 'viewer', hosts?: string[]): string {
    return this.controllerCommand([
      'token',
      'create',
      '--name',
      name,
      '--role',
      role,
      ...(hosts ? ['--hosts', ...hosts] : []),
    ]).trim();
  }

  /** set by a blocking {@link controllerCommand}, cleared by the next {@link api} call */
  private blocked = false;

  /** Runs `warren-controller <args>` against this installation's state; returns its stdout, throws on a non-zero exit. */
  controllerCommand(args: string[]): string {
    // spawnSync blocks this process: the controller may close a kept-alive socket meanwhile, unseen.
    this.blocked = true;
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/warren-controller.js'), ...args, '--state-dir', this.dir, '--db', this.db],
      // A blocked process cannot time out a test: the spawn itself is bounded.
      { encoding: 'utf8', timeout: SYNC_COMMAND_MS, killSignal: 'SIGKILL' },
    );
    if (r.status !== 0) throw new Error(`warren-controller ${args.join(' ')} ${exitOf(r)}: ${r.stderr}`);
    return r.stdout;
  }

  /** Runs the `warren` CLI to completion, with this installation's admin token unless `env` says otherwise. */
  async cli(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [join(ROOT, 'bin/warren.js'), ...args], {
      env: { ...process.env, WARREN_URL: this.url, WARREN_TOKEN: this.token, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    return { code, stdout, stderr };
  }

  /** One HTTP call to the controller, with the admin token unless `opts.token` gives another (null: none). */
  async api(
    method: string,
    path: string,
    body?: unknown,
    opts: { token?: string | null } = {},
  ): Promise<{ status: number; body: any; headers: Headers }> {
    const token = opts.token === undefined ? this.token : opts.token;
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init = { method, headers, body: body === undefined ? undefined : JSON.stringify(body) };
    // After a blocking command the client may reuse a socket the controller closed while idle (its
    // 5 s keep-alive passed while this process could not see it): the request never reached the
    // controller (undici: `other side closed`), so it is sent once more, on a new socket.
    const stale = this.blocked;
    this.blocked = false;
    const res = await fetch(`${this.url}${path}`, init).catch((err: Error & { cause?: { code?: string } }) => {
      if (!stale || err.cause?.code !== 'UND_ERR_SOCKET') throw err;
      return fetch(`${this.url}${path}`, init);
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  /** The id of `host`'s accepted agent key, as `GET /v1/hosts` lists it (what a signed command names). */
  async hostKeyId(host: string): Promise<string> {
    const { hosts } = (await this.api('GET', '/v1/hosts')).body as { hosts: { host: string; keyId: string | null }[] };
    const keyId = hosts.find((h) => h.host === host)?.keyId;
    if (!keyId) throw new Error(`${host} has no accepted key`);
    return keyId;
  }

  /** Posts a task with `wait: true` and returns the finished task. */
  async runAndWait(body: Record<string, unknown>): Promise<TaskView> {
    const res = await this.api('POST', '/v1/tasks', { ...body, wait: true });
    if (res.status !== 200) throw new Error(`POST /v1/tasks → ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  private spawn(script: string, args: string[], env: Record<string, string>, cwd?: string): Proc {
    const child = spawn(process.execPath, [resolve(ROOT, script), ...args], {
      cwd,
      env: { ...process.env, WARREN_LOG_LEVEL: 'debug', WARREN_QUEUE_TYPE: this.queueType, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new Proc(child);
    this.all.push(p);
    return p;
  }

  /** Kills every process and deletes this namespace's queues and exchanges. */
  async teardown(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop('SIGKILL')));
    try {
      await this.deleteTopology();
    } finally {
      // Even when no broker answers (a cluster's nodes down): the cgroups and files are ours alone.
      await removeAgentCgroups(this.ns);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async deleteTopology(): Promise<void> {
    const conn = await connectAny(this.brokerUrl.split(','));
    conn.on('error', () => undefined);
    /** A channel whose refusal (a queue whose node is down: 404) rejects the call instead of throwing out of amqplib. */
    const channel = async () => {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      return ch;
    };
    try {
      const t = sharedTopology(this.ns, this.queueType);
      const hosts = [...this.agents.keys()];
      const queues = [
        ...t.queues.map((q) => q.name),
        eventsStream(this.ns),
        ...hosts.flatMap((h) => [agentQueue(this.ns, h), agentControlQueue(this.ns, h), agentChunksQueue(this.ns, h)]),
      ];
      for (const q of queues) {
        const ch = await channel();
        await ch.deleteQueue(q).catch(() => undefined);
        await ch.close().catch(() => undefined);
      }
      for (const e of [...t.exchanges, { name: eventNotesExchange(this.ns) }]) {
        const ch = await channel();
        await ch.deleteExchange(e.name).catch(() => undefined);
        await ch.close().catch(() => undefined);
      }
    } finally {
      await conn.close();
    }
  }
}

/** A connection to the first of `urls` (the nodes of a cluster, some perhaps down) that accepts one. */
async function connectAny(urls: string[]): Promise<amqplib.ChannelModel> {
  for (const [i, url] of urls.entries()) {
    try {
      return await amqplib.connect(url, { timeout: 5_000 });
    } catch (err) {
      if (i === urls.length - 1) throw err;
    }
  }
  throw new Error('no broker URL');
}

/**
 * True while any live (non-zombie) process of group `pgid` exists. Zombies are dead: where PID 1
 * does not reap orphans (as in this sandbox) they linger, but they run nothing.
 */
export function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces, so split after its closing paren.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

/** Peak resident set (VmHWM) of a process, in bytes. */
export async function peakRss(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}
