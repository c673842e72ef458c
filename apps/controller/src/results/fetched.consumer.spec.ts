import { type FileChunkMessage, PROTOCOL_VERSION } from '@warren/protocol';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import type { FileStore } from '../store/file-store.port';
import { SqliteFileStore } from '../store/sqlite-file.store';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { task } from '../store/task-store.contract.fixtures';
import { FetchedConsumer } from './fetched.consumer';
import type { ReplyVerifier } from './reply.verifier';

/** A chunk delivery as the consumer receives it, recording how it was settled. */
function delivery() {
  const d = {
    content: Buffer.alloc(0),
    properties: { headers: {} },
    acks: 0,
    rejects: [] as boolean[],
    get settled() {
      return d.acks + d.rejects.length > 0;
    },
    ack: () => void d.acks++,
    reject: (requeue: boolean) => void d.rejects.push(requeue),
  };
  return d;
}

/**
 * A consumer over an in-memory database with a get task `tg` (cap 600 KiB) on `a` and a command
 * task `tc` on `a`; the verifier believes whatever chunk the test hands it (its own spec covers it).
 */
async function consumerOf(files?: FileStore) {
  const db = openDatabase(':memory:');
  const store = new SqliteTaskStore(db);
  const stored = files ?? new SqliteFileStore(db);
  await store.createTask(
    task('tg', 1, { command: 'get /x', transfer: { op: 'get', path: '/x', maxBytes: 600 * 1024 }, hostCount: 1 }),
    [{ id: 'ig', host: 'a', deadlineAt: 9 }],
  );
  await store.createTask(task('tc', 2, { hostCount: 1 }), [{ id: 'ic', host: 'a', deadlineAt: 9 }]);
  let next: FileChunkMessage | null = null;
  const verifier = { verifyChunk: () => next } as unknown as ReplyVerifier;
  const consumer = new FetchedConsumer(
    {} as BrokerService,
    { namespace: 'ns' } as ControllerConfig,
    verifier,
    stored,
    store,
    new MetricsService(),
    pino({ level: 'silent' }),
  );
  const send = async (m: Partial<FileChunkMessage> | null) => {
    next =
      m === null
        ? null
        : {
            v: PROTOCOL_VERSION,
            kind: 'fileChunk',
            invocationId: 'ig',
            taskId: 'tg',
            host: 'a',
            index: 0,
            data: Buffer.from('abc').toString('base64'),
            ...m,
          };
    const d = delivery();
    await consumer.handle(d as never);
    return d;
  };
  return { send, files: stored };
}

describe('FetchedConsumer', () => {
  it("stores a believed chunk of a get's invocation and acks it; a repeated index is acked and kept once", async () => {
    const { send, files } = await consumerOf();
    expect((await send({})).acks).toBe(1);
    expect((await send({ data: Buffer.from('zzz').toString('base64') })).acks).toBe(1);
    expect(await files.readFetchedChunk('ig', 0)).toEqual(Buffer.from('abc'));
  });

  it("drops (no requeue) what is not believed, another host's or task's invocation, a task that is not a get, a chunk past the cap", async () => {
    const { send, files } = await consumerOf();
    expect((await send(null)).rejects).toEqual([false]);
    expect((await send({ host: 'b' })).rejects).toEqual([false]);
    expect((await send({ taskId: 'tc' })).rejects).toEqual([false]);
    expect((await send({ invocationId: 'ic', taskId: 'tc' })).rejects).toEqual([false]);
    expect((await send({ index: 2 })).rejects).toEqual([false]); // 600 KiB is 2 chunks: 0 and 1
    expect(await files.fetchedProgress('ig')).toEqual({ count: 0, bytes: 0 });
    expect((await send({ index: 1 })).acks).toBe(1);
  });

  it('puts a chunk the store failed to take back on the queue, after a pause', async () => {
    vi.useFakeTimers();
    try {
      const failing = {
        putFetchedChunk: async () => {
          throw new Error('disk full');
        },
      } as unknown as FileStore;
      const { send } = await consumerOf(failing);
      const d = await send({});
      expect(d.settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(d.rejects).toEqual([true]);
    } finally {
      vi.useRealTimers();
    }
  });
});
