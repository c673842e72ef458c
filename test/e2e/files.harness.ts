import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as amqplib from 'amqplib';
import type { FileUploaded, HostResult, TaskView } from '@warren/api';
import { agentChunksQueue, chunksExchange } from '@warren/protocol';
import { Proc, until, type Warren } from './harness';

/** Helpers of the file transfer e2e specs (issue 16): policies, uploads, isolated agents, a chunk interceptor. */

const ROOT = resolve(__dirname, '../..');

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** `n` random bytes. */
export const randomFile = (n: number) => randomBytes(n);

/**
 * Writes an agent policy into the installation's directory and returns its path: root allowed
 * (the agents here run as root, as in a lab), `users` (the first is the default owner), and the
 * `files.write` / `files.read` globs.
 */
export function filesPolicy(
  w: Warren,
  name: string,
  files: { write: string[]; read: string[] },
  users = ['root', 'daemon'],
): string {
  const path = join(w.dir, `${name}.yaml`);
  const list = (globs: string[]) => `[${globs.map((g) => JSON.stringify(g)).join(', ')}]`;
  writeFileSync(
    path,
    `allowRoot: true\nusers: ${list(users)}\nfiles:\n  write: ${list(files.write)}\n  read: ${list(files.read)}\n`,
  );
  return path;
}

/** `POST /v1/files` with the admin token: the bytes, stored once. */
export async function upload(w: Warren, bytes: Buffer, name: string): Promise<FileUploaded> {
  const res = await fetch(`${w.url}/v1/files?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`POST /v1/files → ${res.status} ${await res.text()}`);
  return (await res.json()) as FileUploaded;
}

/** `POST /v1/tasks` (no wait): the task id. */
export async function createTask(w: Warren, body: Record<string, unknown>): Promise<string> {
  const res = await w.api('POST', '/v1/tasks', body);
  if (res.status !== 202) throw new Error(`POST /v1/tasks → ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { id: string }).id;
}

/** Long-polls `GET /v1/tasks/:id` until the task is no longer running. */
export async function finished(w: Warren, id: string, timeoutMs = 60_000): Promise<TaskView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = (await w.api('GET', `/v1/tasks/${id}?waitMs=5000`)).body as TaskView;
    if (task.state !== 'running') return task;
    if (Date.now() > deadline)
      throw new Error(`task ${id} still running after ${timeoutMs} ms: ${JSON.stringify(task)}`);
  }
}

/** The result of `host` in `task`. */
export function resultOf(task: TaskView, host: string): HostResult {
  const r = task.results.find((x) => x.host === host);
  if (!r) throw new Error(`no result for ${host} in ${JSON.stringify(task)}`);
  return r;
}

/**
 * An agent in its own mount namespace, with a private tmpfs mounted over `root` (a directory of the
 * installation): three such agents on one machine each see their own files at the same paths, as
 * three real hosts would. `unshare --kill-child` kills the agent when it is killed. The test reads
 * an agent's files through `/proc/<pid>/root` ({@link IsolatedAgent.path}).
 */
export class IsolatedAgent {
  constructor(
    readonly host: string,
    readonly proc: Proc,
  ) {}

  /** `path` as this agent sees it, from outside its mount namespace. */
  path(path: string): string {
    return `/proc/${this.proc.pid}/root${path}`;
  }
}

/** Starts an {@link IsolatedAgent} for `host` with `policy`; resolves once the controller sees it online. */
export async function startIsolatedAgent(
  w: Warren,
  host: string,
  root: string,
  policy: string,
): Promise<IsolatedAgent> {
  mkdirSync(root, { recursive: true });
  const agentArgs = [
    join(ROOT, 'bin/warren-agent.js'),
    '--host',
    host,
    '--namespace',
    w.ns,
    '--broker',
    w.brokerUrl,
    '--state-dir',
    join(w.dir, `agent-${host}`),
    '--trust',
    w.controllerPublicKey,
    '--policy',
    policy,
    '--presence-interval',
    '1s',
  ];
  const child = spawn(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      '--kill-child',
      '--',
      'sh',
      '-c',
      'mount -t tmpfs tmpfs "$0" && exec "$@"',
      root,
      process.execPath,
      ...agentArgs,
    ],
    {
      env: { ...process.env, WARREN_LOG_LEVEL: 'debug', WARREN_QUEUE_TYPE: w.queueType },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const proc = new Proc(child);
  w.agents.set(host, proc); // so that teardown deletes its queues
  try {
    await until(async () => {
      const { hosts } = (await w.api('GET', '/v1/hosts')).body as { hosts: { host: string; status: string }[] };
      return hosts.some((h) => h.host === host && h.status === 'online');
    }, 20_000);
  } catch (err) {
    throw new Error(`isolated agent ${host} not online: ${(err as Error).message}\n${proc.output.slice(-2000)}`, {
      cause: err,
    });
  }
  return new IsolatedAgent(host, proc);
}

/**
 * Takes the chunks meant for `host` off their way: its chunk queue is unbound from the chunks
 * exchange and a queue of the test's own is bound there with the same key, so every chunk for the
 * host lands here first. {@link forward} then publishes chosen chunks (altered or not) straight to
 * the host's queue, with the same headers and properties. {@link restore} puts the binding back.
 */
export class ChunkInterceptor {
  private conn!: amqplib.ChannelModel;
  private ch!: amqplib.ConfirmChannel;
  readonly queue: string;
  /** chunks received, in arrival order, not yet forwarded */
  readonly held: amqplib.ConsumeMessage[] = [];

  constructor(
    private readonly w: Warren,
    readonly host: string,
  ) {
    this.queue = `${w.ns}.test-intercept.${host}`;
  }

  async start(): Promise<void> {
    this.conn = await amqplib.connect(this.w.brokerUrl);
    this.ch = await this.conn.createConfirmChannel();
    await this.ch.unbindQueue(agentChunksQueue(this.w.ns, this.host), chunksExchange(this.w.ns), this.host);
    await this.ch.assertQueue(this.queue, { durable: false, autoDelete: false });
    await this.ch.bindQueue(this.queue, chunksExchange(this.w.ns), this.host);
    await this.ch.consume(this.queue, (m) => m && this.held.push(m), { noAck: false });
  }

  /** Resolves once `n` chunks have arrived here. */
  async waitFor(n: number, timeoutMs = 30_000): Promise<void> {
    await until(() => this.held.length >= n, timeoutMs);
  }

  /** Publishes `m` to the host's chunk queue, its body replaced by `body` if given; acks it here. */
  async forward(m: amqplib.ConsumeMessage, body: Buffer = m.content): Promise<void> {
    const p = m.properties;
    this.ch.sendToQueue(agentChunksQueue(this.w.ns, this.host), body, {
      headers: p.headers,
      type: p.type,
      persistent: true,
      ...(p.expiration !== undefined ? { expiration: p.expiration } : {}),
    });
    await this.ch.waitForConfirms();
    this.ch.ack(m);
  }

  /** Rebinds the host's chunk queue and deletes the test's queue. */
  async restore(): Promise<void> {
    await this.ch.bindQueue(agentChunksQueue(this.w.ns, this.host), chunksExchange(this.w.ns), this.host);
    await this.ch.deleteQueue(this.queue);
    await this.conn.close();
  }
}

/** Deletes the chunk queues of `hosts` (the shared harness deletes the command queues, not these). */
export async function deleteChunkQueues(w: Warren, hosts: string[]): Promise<void> {
  const conn = await amqplib.connect(w.brokerUrl);
  try {
    for (const h of hosts) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.deleteQueue(agentChunksQueue(w.ns, h)).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
  } finally {
    await conn.close();
  }
}
