import { createHash } from 'node:crypto';
import { CHUNK_HEADERS, FILE_CHUNK_BYTES, PROTOCOL_VERSION, type ReadyMessage } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import { SqliteFileStore } from '../store/sqlite-file.store';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { task } from '../store/task-store.contract.fixtures';
import { ChunkSender, MAX_HOSTS_PER_PUBLISH, MAX_UNCONFIRMED } from './chunk.sender';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A ChunkSender over an in-memory database holding a task `t1` that puts a 3-chunk file on
 * `hosts`, and a broker whose confirms come when the test releases them.
 */
async function senderOf(hostCount: number, kind: 'put' | 'stdin' = 'put') {
  const db = openDatabase(':memory:');
  const files = new SqliteFileStore(db);
  const store = new SqliteTaskStore(db);
  const parts = [0, 1, 2].map((i) => Buffer.alloc(i < 2 ? FILE_CHUNK_BYTES : 10, i + 1));
  const file = Buffer.concat(parts);
  await files.beginUpload('u', 1);
  for (const [i, p] of parts.entries()) await files.putUploadChunk('u', i, p);
  await files.commitUpload('u', {
    sha256: sha(file),
    size: file.length,
    name: 'f',
    chunks: parts.map(sha),
    createdAt: 1,
    createdBy: 'a',
  });
  const hosts = Array.from({ length: hostCount }, (_, i) => `h${String(i).padStart(3, '0')}`);
  const transfer = {
    op: 'put' as const,
    file: sha(file),
    name: 'f',
    size: file.length,
    dest: '/x',
    mode: null,
    owner: null,
    group: null,
    mkdir: false,
  };
  const sends = kind === 'put' ? { transfer } : { command: 'sha256sum', stdin: { file: sha(file), size: file.length } };
  await store.createTask(
    task('t1', 1, { ...sends, hostCount, timeoutMs: 10_000, deliveryTimeoutMs: 5_000 }),
    hosts.map((host) => ({ id: `i-${host}`, host, deadlineAt: 9_999 })),
  );
  const published: { key: string; index: number; bcc: string[]; body: Buffer; options: Record<string, unknown> }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const broker = {
    publisher: {
      publish: (_x: string, key: string, body: Buffer, options: { headers: Record<string, unknown> }) => {
        published.push({
          key,
          index: options.headers[CHUNK_HEADERS.index] as number,
          bcc: (options.headers.BCC as string[] | undefined) ?? [],
          body,
          options,
        });
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        // confirmed a little later, as a broker would, so that the window fills
        return new Promise<void>((r) => setTimeout(() => (inFlight--, r()), 2));
      },
    },
  } as unknown as BrokerService;
  const metrics = new MetricsService();
  const sender = new ChunkSender(
    broker,
    { namespace: 'ns' } as ControllerConfig,
    files,
    store,
    metrics,
    new ManualClock(),
    pino({ level: 'silent' }),
  );
  const ready = (host: string, over: Partial<ReadyMessage> = {}): ReadyMessage => ({
    v: PROTOCOL_VERSION,
    kind: 'ready',
    invocationId: `i-${host}`,
    taskId: 't1',
    host,
    sha256: sha(file),
    ...over,
  });
  /** Resolves once every pass under way and queued has ended. */
  const drained = async () => {
    await new Promise((r) => setTimeout(r, 60));
    await sender.onModuleDestroy();
  };
  return { sender, hosts, parts, published, ready, drained, maxInFlight: () => maxInFlight, metrics };
}

describe('ChunkSender', () => {
  it('sends each chunk once per 200 hosts, in order, routing key the first and BCC the others, at most 8 unconfirmed', async () => {
    const s = await senderOf(450);
    for (const h of s.hosts) await s.sender.ready(s.ready(h));
    await s.drained();
    // one pass: 3 chunks × 3 groups (200, 200, 50 hosts)
    expect(s.published).toHaveLength(9);
    expect(s.published.map((p) => p.index)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(s.published.slice(0, 3).map((p) => 1 + p.bcc.length)).toEqual([200, 200, 50]);
    const reached = s.published.filter((p) => p.index === 0).flatMap((p) => [p.key, ...p.bcc]);
    expect(reached.sort()).toEqual([...s.hosts].sort());
    expect(s.published.every((p) => p.bcc.length < MAX_HOSTS_PER_PUBLISH)).toBe(true);
    expect(s.published.map((p) => sha(p.body))).toEqual(s.parts.flatMap((p) => [sha(p), sha(p), sha(p)]));
    expect(s.maxInFlight()).toBe(MAX_UNCONFIRMED); // the window fills, and holds: 9 publishes, never 9 at once
    expect(s.published[0].options).toMatchObject({
      persistent: true,
      type: 'warren.chunk',
      expiration: '15000', // the task's timeout + delivery timeout
      headers: { [CHUNK_HEADERS.task]: 't1' },
    });
    expect(await s.metrics.registry.metrics()).toMatch(/warren_file_chunks_published_total 9/);
  });

  it('serves hosts whose ready came while a pass ran with one more pass', async () => {
    const s = await senderOf(3);
    await s.sender.ready(s.ready('h000'));
    await new Promise((r) => setTimeout(r, 30)); // the first pass has begun
    await s.sender.ready(s.ready('h001'));
    await s.sender.ready(s.ready('h002'));
    await s.drained();
    expect(s.published.map((p) => [p.index, p.key, ...p.bcc])).toEqual([
      [0, 'h000'],
      [1, 'h000'],
      [2, 'h000'],
      [0, 'h001', 'h002'],
      [1, 'h001', 'h002'],
      [2, 'h001', 'h002'],
    ]);
  });

  it("sends a command's stdin file like a put's", async () => {
    const s = await senderOf(2, 'stdin');
    await s.sender.ready(s.ready('h000'));
    await s.sender.ready(s.ready('h001'));
    await s.drained();
    expect(s.published.map((p) => [p.index, p.key, ...p.bcc])).toEqual([
      [0, 'h000', 'h001'],
      [1, 'h000', 'h001'],
      [2, 'h000', 'h001'],
    ]);
    expect(s.published.map((p) => sha(p.body))).toEqual(s.parts.map(sha));
  });

  it('serves an invocation once: a storm of readies from one host, or one after its pass, sends no more passes', async () => {
    const s = await senderOf(2);
    await Promise.all(Array.from({ length: 1000 }, () => s.sender.ready(s.ready('h000'))));
    await new Promise((r) => setTimeout(r, 60)); // the pass has ended
    for (let i = 0; i < 5; i++) {
      await s.sender.ready(s.ready('h000'));
      await new Promise((r) => setTimeout(r, 30));
    }
    await s.sender.ready(s.ready('h001')); // another host is still served
    await s.drained();
    expect(s.published.map((p) => [p.index, p.key, ...p.bcc])).toEqual([
      [0, 'h000'],
      [1, 'h000'],
      [2, 'h000'],
      [0, 'h001'],
      [1, 'h001'],
      [2, 'h001'],
    ]);
  });

  it("a refused ready (another host's invocation, another file) does not stop the invocation from being served", async () => {
    const s = await senderOf(2);
    await s.sender.ready(s.ready('h000', { host: 'h001' })); // h001 (its signature) asks for h000's invocation
    await s.sender.ready(s.ready('h000', { sha256: 'e'.repeat(64) })); // refused: not the task's file
    await s.sender.ready(s.ready('h000'));
    await s.drained();
    expect(s.published.map((p) => [p.index, p.key])).toEqual([
      [0, 'h000'],
      [1, 'h000'],
      [2, 'h000'],
    ]);
  });

  it("drops a ready for another file, another host's invocation, or an unknown one: nothing is sent", async () => {
    const s = await senderOf(2);
    await s.sender.ready(s.ready('h000', { sha256: 'e'.repeat(64) }));
    await s.sender.ready(s.ready('h000', { host: 'h001' }));
    await s.sender.ready(s.ready('h000', { invocationId: 'nope' }));
    await s.sender.ready(s.ready('h000', { taskId: 't2' }));
    await s.drained();
    expect(s.published).toEqual([]);
  });
});
