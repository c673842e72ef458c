import type { ConsumeMessage } from '@warren/amqp';
import { eventNotesExchange, repliesExchange, type ReplyMessage } from '@warren/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ControllerConfig } from '../config/controller.config';
import type { ReplyVerifier } from '../results/reply.verifier';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { parseLastEventId } from './event-id';
import { encodeNote } from './event-note';
import type { NotePublisher } from './note.publisher';
import type { StreamChannels } from './stream-channels';
import { started } from '../store/task-store.contract.fixtures';
import { chunk, result, task } from './task-events.fixtures';
import { TaskEvents } from './task-events.service';
import type { TaskEvent } from './task-stream';

async function make() {
  const store = new SqliteTaskStore(openDatabase(':memory:'), () => undefined);
  await store.createTask(task('t1'), [
    { id: 'i1', host: 'web1', deadlineAt: 99_000 },
    { id: 'i2', host: 'web2', deadlineAt: 99_000 },
  ]);
  const calls = { believe: 0 };
  /** Believes a body that is a reply of web1 or web2 with a header `good`; owns what it believes. */
  const verifier = {
    believe: (content: Buffer, headers?: Record<string, unknown>) => {
      calls.believe++;
      return headers?.good ? (JSON.parse(content.toString()) as ReplyMessage) : null;
    },
    owns: async () => true,
  } as unknown as ReplyVerifier;
  const events = new TaskEvents(
    store,
    verifier,
    {} as StreamChannels,
    { publish: () => undefined } as unknown as NotePublisher,
    { namespace: 'test' } as ControllerConfig,
    pino({ level: 'silent' }),
  );
  const decode = (taskId: string, m: ConsumeMessage) =>
    (events as unknown as { decode(t: string, m: ConsumeMessage): Promise<unknown> }).decode(taskId, m);
  return { store, events, calls, decode };
}

const message = (offset: number, exchange: string, body: Buffer, good = true) =>
  ({
    content: body,
    fields: { exchange },
    properties: { headers: { 'x-stream-offset': offset, ...(good ? { good: 1 } : {}) } },
  }) as unknown as ConsumeMessage;

const ev = (offset: number, k: number, event: TaskEvent['event'], invocationId: string | null): TaskEvent => ({
  at: { offset, k },
  event,
  invocationId,
  data: null,
});

describe('TaskEvents', () => {
  const NOTE = encodeNote({ v: 1, results: [{ taskId: 't1', invocationId: 'i1', state: 'succeeded' }], completed: [] });
  const CHUNK = Buffer.from(JSON.stringify(chunk('i1', 'web1', 0, 0, 'a\n')));

  it('believes a note only when it came through the notes exchange, and a reply only through the replies exchange', async () => {
    const { decode } = await make();
    expect(await decode('t1', message(1, eventNotesExchange('test'), NOTE))).toMatchObject({ kind: 'note' });
    expect(await decode('t1', message(2, repliesExchange('test'), NOTE, false))).toBeNull(); // an agent posing as a controller
    expect(await decode('t1', message(3, '', NOTE))).toBeNull();
    expect(await decode('t1', message(4, repliesExchange('test'), CHUNK))).toMatchObject({ kind: 'output' });
    expect(await decode('t1', message(5, eventNotesExchange('test'), CHUNK))).toBeNull(); // not a note
    expect(await decode('t1', message(6, repliesExchange('test'), CHUNK, false))).toBeNull(); // not believed
  });

  it("checks a reply once however many feeds read it, and hands it only to its own task's feeds", async () => {
    const { decode, calls } = await make();
    for (let i = 0; i < 5; i++) expect(await decode('t1', message(7, repliesExchange('test'), CHUNK))).not.toBeNull();
    expect(calls.believe).toBe(1);
    expect(await decode('t2', message(7, repliesExchange('test'), CHUNK))).toBeNull();
    expect(calls.believe).toBe(1); // another task's message: skipped before any check
  });

  it('renders result and completed from the store, skipping a start that never was, a result not stored as terminal, a completion of a running task', async () => {
    const { store, events } = await make();
    expect(
      await events.render('t1', [ev(1, 0, 'started', 'i1'), ev(1, 1, 'result', 'i1'), ev(1, 2, 'completed', null)]),
    ).toEqual([]);
    await store.applyUpdates([result('i1', 'web1', 'one\n'), result('i2', 'web2', 'two\n')], 4_000);
    const sent = await events.render('t1', [
      ev(2, 0, 'started', 'i1'),
      ev(2, 1, 'result', 'i1'),
      ev(2, 2, 'completed', null),
    ]);
    expect(sent.map((e) => [e.id, e.event])).toEqual([
      ['2-0', 'started'],
      ['2-1', 'result'],
      ['2-2', 'completed'],
    ]);
    expect(sent[1].data).toMatchObject({ host: 'web1', state: 'succeeded', stdout: 'one\n' });
    expect(sent[2].data).toMatchObject({
      taskId: 't1',
      state: 'completed',
      summary: { total: 2, byState: { succeeded: 2 } },
    });
  });

  it("reads the output of the invocations a batch names only, and completed's summary from counts", async () => {
    const { store, events } = await make();
    await store.applyUpdates([result('i1', 'web1', 'one\n'), result('i2', 'web2', 'two\n')], 4_000);
    const asked: string[][] = [];
    const byIds = store.getInvocationsByIds.bind(store);
    store.getInvocationsByIds = (taskId, ids) => (asked.push([...ids]), byIds(taskId, ids));
    store.getInvocations = () => Promise.reject(new Error("read every invocation's output"));
    const sent = await events.render('t1', [ev(3, 0, 'result', 'i2')]);
    expect(sent.map((e) => [e.event, e.data?.host, e.data?.stdout])).toEqual([['result', 'web2', 'two\n']]);
    const done = await events.render('t1', [ev(4, 0, 'completed', null)]);
    expect(done[0].data).toMatchObject({ state: 'completed', summary: { total: 2, byState: { succeeded: 2 } } });
    expect(asked).toEqual([['i2']]);
  });

  it('gives a done task\'s events from the store alone, with ids a resume reads as "from the beginning"; none while it runs', async () => {
    const { store, events } = await make();
    expect(await events.fromStore('t1')).toBeNull();
    expect(await events.fromStore('nope')).toBeNull();
    await store.applyUpdates(
      [started('i1', 'web1'), result('i1', 'web1', 'one\n'), result('i2', 'web2', 'two\n')],
      4_000,
    );
    const sent = (await events.fromStore('t1'))!;
    expect(sent.map((e) => [e.id, e.event, e.data.host])).toEqual([
      ['00000000.1', 'started', 'web1'],
      ['00000000.2', 'result', 'web1'],
      ['00000000.3', 'started', 'web2'],
      ['00000000.4', 'result', 'web2'],
      ['00000000.5', 'completed', undefined],
    ]);
    expect(sent[3].data).toMatchObject({ stdout: 'two\n', state: 'succeeded' });
    expect(sent[4].data).toMatchObject({ state: 'completed', summary: { total: 2, byState: { succeeded: 2 } } });
    for (const e of sent) expect(parseLastEventId(e.id)).toEqual({ kind: 'legacy' });
  });
});
