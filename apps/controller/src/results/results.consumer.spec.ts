import {
  CONTROLLER_QUEUE_DELIVERY_LIMIT,
  encode,
  generateSigningKey,
  type InterruptedMessage,
  PROTOCOL_VERSION,
  type ReadyMessage,
  type ResultMessage,
  signBody,
} from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditLog } from '../audit/audit.port';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { HostKeysStore } from '../hosts/host-keys.store';
import { SqliteHostKeyRepository } from '../hosts/sqlite-host-key.repository';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import type { InvocationUpdate, TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from '../tasks/completion.notifier';
import { TaskAudit } from '../tasks/task-audit.service';
import { TaskChanges } from '../tasks/task-changes';
import type { ChunkSender } from '../files/chunk.sender';
import { ReplyVerifier } from './reply.verifier';
import { ResultsConsumer, STORE_RETRY } from './results.consumer';
import { ResultsWriter } from './results.writer';

const agent = generateSigningKey();
const clock = new ManualClock();

const result = (invocationId: string): ResultMessage => ({
  v: PROTOCOL_VERSION,
  kind: 'result',
  invocationId,
  taskId: 't1',
  host: 'web1',
  state: 'succeeded',
  exitCode: 0,
  signal: null,
  stdout: { data: 'ok\n', bytes: 3, truncated: false },
  stderr: { data: '', bytes: 0, truncated: false },
  startedAt: 1,
  finishedAt: 2,
  durationMs: 1,
  reason: null,
});

/** A reply as the consumer receives it, signed by web1's accepted key, recording how it was settled. */
function delivery(m: ResultMessage | InterruptedMessage | ReadyMessage, headers: Record<string, unknown> = {}) {
  const content = encode(m);
  const d = {
    content,
    properties: { headers: { ...signBody(content, agent), ...headers }, correlationId: m.invocationId },
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

/** A store whose commits complete only when the test says so. */
function deferredStore() {
  const commits: { updates: InvocationUpdate[]; now: number; resolve(): void; reject(e: Error): void }[] = [];
  const store = {
    applyUpdates: (updates: InvocationUpdate[], now: number) =>
      new Promise((resolve, reject) =>
        commits.push({
          updates,
          now,
          resolve: () => resolve({ applied: updates.length, completedTaskIds: [] }),
          reject,
        }),
      ),
  } as unknown as TaskStore;
  return { store, commits };
}

async function consumerOf(
  store: TaskStore,
  ping: () => Promise<void> = async () => undefined,
  logger = pino({ level: 'silent' }),
  readies: ReadyMessage[] = [],
) {
  const keys = new HostKeysStore(new SqliteHostKeyRepository(openDatabase(':memory:')), clock);
  const publicKey = agent.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  await keys.seen('web1', publicKey, agent.keyId, true);
  const audit = { record: async () => undefined, recordMany: async () => undefined, query: async () => [] } as AuditLog;
  const metrics = new MetricsService();
  const events = new TaskActivityNotifier();
  const consumer = new ResultsConsumer(
    {} as BrokerService,
    { resultGraceMs: 1_000, namespace: 'test' } as ControllerConfig,
    new ReplyVerifier(keys, store, metrics, logger),
    new ResultsWriter(store, new TaskChanges(events, new CompletionNotifier()), clock, logger),
    new TaskAudit(audit, metrics),
    logger,
    { ping },
    { ready: async (m: ReadyMessage) => void readies.push(m) } as unknown as ChunkSender,
  );
  // The consumer's intake, as its broker consumer calls it, and the flush it schedules; its AMQP
  // consumer stands in as one that records the pause and resume it is told.
  const calls: string[] = [];
  const internals = consumer as unknown as { enqueue(d: unknown): void; flush(): Promise<void>; consumer: unknown };
  internals.consumer = {
    pause: async () => void calls.push('pause'),
    resume: async () => void calls.push('resume'),
    cancel: async () => undefined,
    close: async () => undefined,
  };
  return {
    receive: (d: unknown) => internals.enqueue(d),
    flush: () => internals.flush(),
    calls,
    stop: () => consumer.stop(),
  };
}

/** Lets the consumer run: a turn before each batch, one to store it, one for what follows. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

describe('ResultsConsumer', () => {
  afterEach(() => vi.useRealTimers());

  it('hands a verified ready to the chunk sender and acks it, storing nothing; drops a forged one', async () => {
    const { store, commits } = deferredStore();
    const readies: ReadyMessage[] = [];
    const { receive, flush } = await consumerOf(store, undefined, undefined, readies);
    const ready: ReadyMessage = {
      v: PROTOCOL_VERSION,
      kind: 'ready',
      invocationId: 'i1',
      taskId: 't1',
      host: 'web1',
      sha256: 'a'.repeat(64),
    };
    const d = delivery(ready);
    const forged = delivery({ ...ready, invocationId: 'i2' }, { 'warren-sig': 'AAAA' });
    receive(d);
    receive(forged);
    await flush();
    expect(readies).toEqual([ready]);
    expect(commits).toHaveLength(0);
    expect(d.acks).toBe(1);
    expect(forged.rejects).toEqual([false]);
  });

  it('stores the file a result reports with it', async () => {
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    const file = { sha256: 'b'.repeat(64), size: 3, changed: true };
    receive(delivery({ ...result('i1'), file }));
    const flushed = flush();
    await settle();
    expect(commits[0].updates).toEqual([expect.objectContaining({ kind: 'result', file })]);
    commits[0].resolve();
    await flushed;
  });

  it('acks a reply only once the store has committed it, stamped with the clock', async () => {
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    const d = delivery(result('i1'));
    receive(d);
    const flushed = flush();
    await settle();
    expect(commits).toHaveLength(1);
    expect(commits[0].updates).toEqual([expect.objectContaining({ kind: 'result', invocationId: 'i1' })]);
    expect(commits[0].now).toBe(clock.now());
    expect(d.acks).toBe(0); // stored but not committed: a crash now must leave it in the queue
    commits[0].resolve();
    await flushed;
    expect(d.acks).toBe(1);
  });

  it('stores what arrives during a commit as one next batch, taken when that commit ends (group commit)', async () => {
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    receive(delivery(result('i1')));
    const first = flush();
    await settle();
    expect(commits).toHaveLength(1);
    const later = ['i2', 'i3', 'i4'].map((id) => delivery(result(id)));
    for (const d of later) {
      receive(d); // one per tick, as a broker delivers them under load
      await settle();
    }
    expect(commits).toHaveLength(1); // nothing cut while the first is being stored
    commits[0].resolve();
    await first;
    await settle();
    await settle();
    expect(commits).toHaveLength(2);
    expect(commits[1].updates.map((u) => u.invocationId)).toEqual(['i2', 'i3', 'i4']);
    commits[1].resolve();
    await settle();
    expect(later.map((d) => d.acks)).toEqual([1, 1, 1]);
  });

  it('never acks a batch the store failed to commit: it goes back to the queue', async () => {
    vi.useFakeTimers();
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    const d = delivery(result('i1'));
    receive(d);
    const flushed = flush();
    await vi.advanceTimersByTimeAsync(0);
    commits[0].reject(new Error('disk full'));
    await flushed;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(d.acks).toBe(0);
    expect(d.rejects).toEqual([true]);
  });

  it('says so when it gives back a reply the quorum results queue will drop (past its delivery limit), and only then', async () => {
    vi.useFakeTimers();
    const { store, commits } = deferredStore();
    const lines: string[] = [];
    const { receive, flush } = await consumerOf(
      store,
      undefined,
      pino({ level: 'error' }, { write: (l: string) => void lines.push(l) }),
    );
    const last = delivery(result('i1'), { 'x-delivery-count': CONTROLLER_QUEUE_DELIVERY_LIMIT });
    const earlier = delivery(result('i2'), { 'x-delivery-count': CONTROLLER_QUEUE_DELIVERY_LIMIT - 1 });
    receive(last);
    receive(earlier);
    const flushed = flush();
    await vi.advanceTimersByTimeAsync(0);
    commits[0].reject(new Error('disk full'));
    await flushed;
    await vi.advanceTimersByTimeAsync(1_000);
    expect([last.rejects, earlier.rejects]).toEqual([[true], [true]]);
    const drops = lines.map((l) => JSON.parse(l)).filter((l) => /delivery limit/.test(l.msg));
    expect(drops).toEqual([expect.objectContaining({ correlationId: 'i1', returns: CONTROLLER_QUEUE_DELIVERY_LIMIT })]);
  });

  it('waits longer before each requeue while the store keeps failing, and starts over once it commits', async () => {
    vi.useFakeTimers();
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    /** One batch that fails; ms until the consumer put it back. */
    const failOnce = async (fail = true) => {
      const d = delivery(result(`i${commits.length}`));
      receive(d);
      const flushed = flush();
      await vi.advanceTimersByTimeAsync(0);
      if (fail) commits[commits.length - 1].reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
      else commits[commits.length - 1].resolve();
      await flushed;
      let waited = 0;
      while (d.rejects.length === 0 && d.acks === 0 && waited < 60_000) {
        await vi.advanceTimersByTimeAsync(100);
        waited += 100;
      }
      return waited;
    };
    const delays = [];
    for (let i = 0; i < 6; i++) delays.push(await failOnce());
    expect(delays[0]).toBeLessThanOrEqual(1_000);
    expect(delays[2]).toBeGreaterThanOrEqual(2_000); // the 3rd failure in a row: 2–4 s
    expect(Math.max(...delays)).toBeLessThanOrEqual(STORE_RETRY.maxMs); // never longer than the sweeper holds its verdicts
    expect(delays[5]).toBeGreaterThanOrEqual(STORE_RETRY.maxMs / 2);
    expect(await failOnce(false)).toBe(0); // stored: acked at once
    expect(await failOnce()).toBeLessThanOrEqual(1_000); // and the pauses start over
  });

  it('when the database is away: puts the replies back at once, stops taking results, and takes them again once it answers', async () => {
    vi.useFakeTimers();
    const { store, commits } = deferredStore();
    let up = false;
    let pings = 0;
    const away = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { receive, flush, calls, stop } = await consumerOf(store, async () => {
      pings++;
      if (!up) throw away();
    });
    try {
      const a = delivery(result('i1'));
      const b = delivery(result('i2'));
      receive(a);
      const first = flush();
      await vi.advanceTimersByTimeAsync(0);
      receive(b); // read while the first batch is being stored: its own batch
      const second = flush();
      commits[0].reject(away());
      await vi.advanceTimersByTimeAsync(0);
      await first;
      commits[1].reject(away());
      await second;
      // Back on the queue at once, for a controller that can store them: not held for a pause.
      expect(a.rejects).toEqual([true]);
      expect(b.rejects).toEqual([true]);
      expect(calls).toEqual(['pause']); // once, however many batches failed
      await vi.advanceTimersByTimeAsync(30_000);
      expect(pings).toBeGreaterThanOrEqual(5); // probing, at most STORE_RETRY.maxMs apart
      expect(pings).toBeLessThanOrEqual(30);
      expect(calls).toEqual(['pause']);
      up = true;
      await vi.advanceTimersByTimeAsync(STORE_RETRY.maxMs);
      expect(calls).toEqual(['pause', 'resume']);
      const settledPings = pings;
      await vi.advanceTimersByTimeAsync(30_000);
      expect(pings).toBe(settledPings); // no probe once it answers
    } finally {
      await stop();
    }
  });

  it("stores an agent's restart report (`interrupted`) as an `interrupted` update of that host, acked after the commit", async () => {
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    const report: InterruptedMessage = {
      v: PROTOCOL_VERSION,
      kind: 'interrupted',
      invocationId: 'i1',
      taskId: 't1',
      host: 'web1',
      reportedAt: 7,
      reason: 'the agent stopped while it ran',
    };
    const d = delivery(report);
    receive(d);
    const flushed = flush();
    await settle();
    expect(commits[0].updates).toEqual([
      { kind: 'interrupted', invocationId: 'i1', host: 'web1', reason: 'the agent stopped while it ran', at: 7 },
    ]);
    expect(d.acks).toBe(0);
    commits[0].resolve();
    await flushed;
    expect(d.acks).toBe(1);
  });

  it('stores batches in the order read: a later batch waits for the commit of the one before', async () => {
    const { store, commits } = deferredStore();
    const { receive, flush } = await consumerOf(store);
    const first = delivery(result('i1'));
    const second = delivery(result('i2'));
    receive(first);
    const one = flush();
    receive(second);
    const two = flush();
    await settle();
    expect(commits.map((c) => c.updates.map((u) => u.invocationId))).toEqual([['i1']]);
    commits[0].resolve();
    await one;
    await settle();
    expect(commits.map((c) => c.updates.map((u) => u.invocationId))).toEqual([['i1'], ['i2']]);
    expect([first.acks, second.acks]).toEqual([1, 0]);
    commits[1].resolve();
    await two;
    expect(second.acks).toBe(1);
  });
});
