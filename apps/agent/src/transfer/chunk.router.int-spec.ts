import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import {
  agentChunksQueue,
  agentTopology,
  CHUNK_HEADERS,
  CHUNK_MESSAGE_TYPE,
  chunksExchange,
  type PutTransfer,
  type ReplyMessage,
} from '@warren/protocol';
import { SystemClock } from '@warren/runtime';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerService } from '../broker/broker.service';
import type { AgentConfig } from '../config/agent.config';
import { until } from '../inbox/inbox.fixtures';
import { compilePathGlob } from '../policy/path.glob';
import { ChunkRouter } from './chunk.router';
import { startPut } from './put.executor';
import type { TransferDeps } from './transfer.common';
import { chunksOf, grantOf, manifestOf, sha256 } from './transfer.fixtures';

const URL = process.env.WARREN_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * The agent's chunk consumer against the real broker: the agent's own topology setup declares
 * `<ns>.chunks.<host>` bound to `<ns>.chunks`, the router consumes it, and a put receives its
 * chunks published as a controller does (once, routing key = host, `BCC` = another host).
 */
describe('ChunkRouter on the real broker', () => {
  const ns = `ch${randomBytes(4).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'warren-chunks-int-'));
  const log = pino({ level: 'silent' });
  const config = {
    brokerUrl: URL,
    brokerTls: {},
    host: 'web1',
    namespace: ns,
    queueType: 'classic',
    amqpHeartbeatSec: 10,
  } as unknown as AgentConfig;
  let broker: BrokerService;
  let router: ChunkRouter;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;

  beforeAll(async () => {
    broker = new BrokerService(config, log);
    router = new ChunkRouter(config, broker, log);
    await router.start();
    await broker.start();
    await broker.whenConnected();
    admin = await amqplib.connect(URL);
    ch = await admin.createConfirmChannel();
    // web2's queue too, so that BCC delivery to a second host can be seen.
    await ch.assertQueue(agentChunksQueue(ns, 'web2'), { durable: true });
    await ch.bindQueue(agentChunksQueue(ns, 'web2'), chunksExchange(ns), 'web2');
  });

  afterAll(async () => {
    await router.close();
    await broker.close();
    for (const q of agentTopology(ns, 'web1', 'classic').queues) await ch.deleteQueue(q.name);
    await ch.deleteQueue(agentChunksQueue(ns, 'web2'));
    for (const e of agentTopology(ns, 'web1', 'classic').exchanges) await ch.deleteExchange(e.name);
    await admin.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes one chunk as a controller does: to web1, BCC web2, persistent, confirmed. */
  const publish = (task: string, file: string, index: number, body: Buffer) =>
    new Promise<void>((resolve, reject) =>
      ch.publish(
        chunksExchange(ns),
        'web1',
        body,
        {
          persistent: true,
          type: CHUNK_MESSAGE_TYPE,
          headers: {
            [CHUNK_HEADERS.task]: task,
            [CHUNK_HEADERS.file]: file,
            [CHUNK_HEADERS.index]: index,
            BCC: ['web2'],
          },
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  const depth = async (host: string) => (await ch.checkQueue(agentChunksQueue(ns, host))).messageCount;

  /** Runs a put of 3 MiB + 99 bytes to `<dir>/<name>`; on its `ready`, this test publishes the chunks as a controller does. */
  const putThroughBroker = async (invocationId: string, taskId: string, name: string) => {
    const bytes = randomBytes(3 * 512 * 1024 + 99);
    const m = manifestOf(bytes);
    const dest = join(dir, name);
    const sent: ReplyMessage[] = [];
    const deps: TransferDeps = {
      journal: { recordTemp: () => undefined },
      chunks: router,
      replies: {
        sendConfirmed: async (msg) => {
          sent.push(msg as ReplyMessage);
          if (msg.kind === 'ready') {
            const chunks = chunksOf(bytes);
            for (let i = 0; i < chunks.length; i++) await publish(taskId, m.sha256, i, chunks[i]);
          }
          return true;
        },
        sendChunk: () => Promise.resolve(true),
      },
      clock: new SystemClock(),
      log,
      stateDir: dir,
    };
    const t: PutTransfer = { op: 'put', file: m, dest, mode: 0o644, owner: null, group: null, mkdir: false };
    const ids = { invocationId, taskId, host: 'web1', replyTo: 'x' };
    const o = await startPut(deps, ids, t, grantOf(), {
      files: { write: [compilePathGlob('/**')], read: [], maxBytes: 1 << 30 },
    }).outcome;
    return { o, m, dest, sent };
  };

  it('a put receives its chunks from the broker and writes the file; a stray chunk is acked and dropped', async () => {
    await publish('t_stale', 'a'.repeat(64), 0, Buffer.from('stale'));
    await until(
      async_(() => depth('web1'), 0),
      5000,
    );
    const { o, m, dest, sent } = await putThroughBroker('inv-1', 't_1', 'motd');
    expect(o).toMatchObject({ state: 'succeeded', file: { sha256: m.sha256, changed: true } });
    expect(sha256(readFileSync(dest))).toBe(m.sha256);
    expect(sent.map((s) => s.kind)).toEqual(['ready']);
    expect(readdirSync(dir)).toEqual(['motd']);
    expect(existsSync(join(dir, '.motd.warren-inv-1.tmp'))).toBe(false);
    await until(
      async_(() => depth('web1'), 0),
      5000,
    ); // every chunk acked
    expect(await depth('web2')).toBe(4 + 1); // the BCC host got each chunk too, from the one publish
  });

  it('after the connection is cut, the chunk queue is consumed again and a put still completes', async () => {
    const { model } = broker.connection as unknown as {
      model: { connection: { stream: { destroy(e: Error): void } } };
    };
    model.connection.stream.destroy(new Error('simulated network fault'));
    await until(() => broker.connection.reconnects === 1, 20_000);
    await until(
      async_(async () => (await ch.checkQueue(agentChunksQueue(ns, 'web1'))).consumerCount, 1),
      20_000,
    );
    const { o, m } = await putThroughBroker('inv-2', 't_2', 'after-reconnect');
    expect(o).toMatchObject({ state: 'succeeded', file: { sha256: m.sha256 } });
  });
});

/** A sync predicate over an async probe, for `until`: true once `probe` last resolved to `want`. */
function async_(probe: () => Promise<number>, want: number): () => boolean {
  let last: number | null = null;
  let busy = false;
  return () => {
    if (!busy) {
      busy = true;
      void probe().then((n) => ((last = n), (busy = false)));
    }
    return last === want;
  };
}
