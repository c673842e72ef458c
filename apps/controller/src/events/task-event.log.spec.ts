import { ManualClock } from '@warren/runtime';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { type EventLogOptions, TaskEventLog } from './task-event.log';
import { type LogWatcher, parseEventId, type SentEvent } from './task-log';
import { TaskActivityNotifier } from './task-activity.notifier';
import { chunk, result, started, task } from './task-events.fixtures';

describe('TaskEventLog', () => {
  let events: TaskActivityNotifier;
  let store: SqliteTaskStore;
  let log: TaskEventLog;
  let clock: ManualClock;
  const make = async (opts: Partial<EventLogOptions> = {}) => {
    events = new TaskActivityNotifier();
    clock = new ManualClock();
    // As in the app: the store announces every change it commits.
    store = new SqliteTaskStore(openDatabase(':memory:'), (c) => events.applied(c));
    await store.createTask(task('t1'), [
      { id: 'i1', host: 'web1', deadlineAt: 99_000 },
      { id: 'i2', host: 'web2', deadlineAt: 99_000 },
    ]);
    log = new TaskEventLog(store, events, clock, opts);
  };
  const idle: LogWatcher = { wake: () => undefined, shutdown: () => undefined };
  /** Everything a client would be sent after `lastId` (undefined: from the start). */
  const read = async (taskId: string, lastId?: string): Promise<SentEvent[]> => {
    const sub = await log.open(taskId, idle);
    const last = parseEventId(lastId);
    const entries = sub.after(last && last.epoch === sub.epoch ? last.seq : 0, 10_000);
    const out = await log.render(taskId, sub.epoch, entries);
    sub.close();
    return out;
  };
  const tick = () => new Promise((r) => setImmediate(r));

  beforeEach(async () => await make());
  afterEach(() => {
    log.onModuleDestroy();
    vi.useRealTimers();
  });

  it('logs started, then chunks in order, dropping a redelivered chunk, each under a stable id', async () => {
    events.started(started('i1', 'web1'));
    events.output(chunk('i1', 'web1', 0, 0, 'one\n'));
    events.output(chunk('i1', 'web1', 1, 4, 'two\n'));
    events.output(chunk('i1', 'web1', 0, 0, 'one\n')); // redelivered
    events.started(started('i1', 'web1')); // redelivered
    const all = await read('t1');
    expect(all.map((e) => [e.event, e.data.data ?? null])).toEqual([
      ['started', null],
      ['output', 'one\n'],
      ['output', 'two\n'],
    ]);
    expect((await read('t1')).map((e) => e.id)).toEqual(all.map((e) => e.id));
  });

  it('sends after a Last-Event-ID exactly what followed it, and the whole log for an id of another epoch', async () => {
    events.started(started('i1', 'web1'));
    for (let i = 0; i < 5; i++) events.output(chunk('i1', 'web1', i, i * 2, `${i}\n`));
    const all = await read('t1');
    const resumed = await read('t1', all[2].id);
    expect(resumed.map((e) => e.id)).toEqual(all.slice(3).map((e) => e.id));
    expect([...all.slice(0, 3), ...resumed].map((e) => e.data.data ?? '').join('')).toBe('0\n1\n2\n3\n4\n');
    expect(await read('t1', 'ffffffff.2')).toHaveLength(all.length);
    expect(await read('t1', 'garbage')).toHaveLength(all.length);
  });

  it('adds each result with the whole stored output, then completed, once the store has them, and wakes watchers', async () => {
    let woken = 0;
    const sub = await log.open('t1', { wake: () => woken++, shutdown: () => undefined });
    events.started(started('i1', 'web1'));
    events.output(chunk('i1', 'web1', 0, 0, 'one\n'));
    await store.applyUpdates([result('i1', 'web1', 'one\ntwo\n')], 4_000);
    await tick();
    await store.applyUpdates(
      [{ kind: 'verdict', invocationId: 'i2', state: 'unknown_host', reason: 'no queue', at: 4_000 }],
      4_000,
    );
    await tick();
    const sent = await log.render('t1', sub.epoch, sub.after(0, 100));
    expect(sent.map((e) => [e.event, e.data.host ?? null])).toEqual([
      ['started', 'web1'],
      ['output', 'web1'],
      ['result', 'web1'],
      ['result', 'web2'],
      ['completed', null],
    ]);
    expect(sent[2].data).toMatchObject({ state: 'succeeded', stdout: 'one\ntwo\n', invocationId: 'i1' });
    expect(sent[4].data).toMatchObject({
      taskId: 't1',
      state: 'completed',
      summary: { total: 2, byState: { succeeded: 1, unknown_host: 1 } },
    });
    expect(woken).toBeGreaterThanOrEqual(4);
    // A chunk arriving after its result (a late redelivery) is not logged.
    events.output(chunk('i1', 'web1', 5, 8, 'late\n'));
    expect(sub.after(sent.length > 0 ? Number(sent[4].id.split('.')[1]) : 0, 10)).toEqual([]);
    sub.close();
  });

  it('starts a log it never had (evicted, or a restarted controller) from the store: started and result per host, then completed', async () => {
    await store.applyUpdates(
      [
        { kind: 'started', invocationId: 'i1', host: 'web1', startedAt: 2_000, resultGraceMs: 1_000 },
        result('i1', 'web1', 'all of it\n'),
      ],
      4_000,
    );
    await store.applyUpdates(
      [
        { kind: 'started', invocationId: 'i2', host: 'web2', startedAt: 2_000, resultGraceMs: 1_000 },
        result('i2', 'web2', 'b\n'),
      ],
      4_000,
    );
    const sent = await read('t1', 'abcdef01.40'); // an id from the log before the restart
    expect(sent.map((e) => e.event)).toEqual(['started', 'result', 'started', 'result', 'completed']);
    expect(sent[1].data).toMatchObject({ host: 'web1', stdout: 'all of it\n' });
  });

  it('a watch of a task that completed, reopened (its host did run it) and completed again ends, even if no change was announced', async () => {
    log.onModuleDestroy();
    events = new TaskActivityNotifier();
    let announce = true;
    store = new SqliteTaskStore(openDatabase(':memory:'), (c) => announce && events.applied(c));
    await store.createTask(task('t1'), [
      { id: 'i1', host: 'web1', deadlineAt: 99_000 },
      { id: 'i2', host: 'web2', deadlineAt: 99_000 },
    ]);
    vi.useFakeTimers(); // the refresh runs every 20 ms of fake time: exactly, not after a real wait
    log = new TaskEventLog(store, events, clock, { refreshMs: 20 });
    const verdict = (inv: string, state: 'undelivered' | 'lost') => ({
      kind: 'verdict' as const,
      invocationId: inv,
      state,
      reason: state,
      at: 5_000,
    });
    await store.applyUpdates([verdict('i1', 'undelivered'), verdict('i2', 'undelivered')], 5_000);
    const sub = await log.open('t1', idle);
    expect((await log.render('t1', sub.epoch, sub.after(0, 100))).map((e) => e.event)).toEqual([
      'result',
      'result',
      'completed',
    ]);
    // web1's agent says it did start it: the task runs again; then its deadline passes. Nobody announces either.
    announce = false;
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i1', host: 'web1', startedAt: 6_000, resultGraceMs: 1_000 }],
      6_000,
    );
    await store.applyUpdates([verdict('i1', 'lost')], 9_000);
    await vi.advanceTimersByTimeAsync(19);
    expect(sub.after(3, 100)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    vi.useRealTimers();
    const sent = await log.render('t1', sub.epoch, sub.after(0, 100));
    expect(sent.map((e) => e.event)).toEqual(['result', 'result', 'completed', 'started', 'result', 'completed']);
    expect(sent[4].data).toMatchObject({ host: 'web1', state: 'lost' });
    sub.close();
  });

  it('keeps at most maxTaskBytes of output per task, dropping the oldest chunks, never a result', async () => {
    await make({ maxTaskBytes: 10 * 228, maxTotalBytes: 1 << 30 });
    events.started(started('i1', 'web1'));
    for (let i = 0; i < 40; i++) events.output(chunk('i1', 'web1', i, i * 100, 'x'.repeat(100)));
    expect(log.heldBytes).toBeLessThanOrEqual(10 * 228);
    const sent = await read('t1');
    const outputs = sent.filter((e) => e.event === 'output');
    expect(outputs.length).toBeLessThanOrEqual(10);
    expect(outputs[outputs.length - 1].data.seq).toBe(39); // the newest are kept
    expect(sent[0].event).toBe('started');
  });

  it('keeps at most maxTotalBytes across tasks, dropping logs nobody watches first', async () => {
    await make({ maxTaskBytes: 1 << 30, maxTotalBytes: 20 * 228 });
    await store.createTask(task('t2'), [{ id: 'j1', host: 'web1', deadlineAt: 99_000 }]);
    const sub = await log.open('t1', idle); // watched
    for (let i = 0; i < 10; i++) events.output(chunk('i1', 'web1', i, i * 100, 'x'.repeat(100)));
    for (let i = 0; i < 15; i++) events.output(chunk('j1', 'web1', i, i * 100, 'y'.repeat(100), 't2'));
    expect(log.heldBytes).toBeLessThanOrEqual(20 * 228);
    expect(sub.after(0, 100).filter((e) => e.event === 'output')).toHaveLength(10); // the watched log kept all of its output
    sub.close();
  });

  it('drops a log nobody watched for idleMs', async () => {
    vi.useFakeTimers();
    try {
      await make({ idleMs: 1_000 });
      events.output(chunk('i1', 'web1', 0, 0, 'x'));
      expect(log.size).toBe(1);
      clock.advance(1_000);
      vi.advanceTimersByTime(1_000);
      expect(log.size).toBe(1); // idle for exactly idleMs: kept
      clock.advance(1);
      vi.advanceTimersByTime(1_000);
      expect(log.size).toBe(0);
      expect(log.heldBytes).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a log whose first watcher is waiting for the store: an idle sweep then does not drop it', async () => {
    vi.useFakeTimers();
    try {
      await make({ idleMs: 1_000 });
      events.output(chunk('i1', 'web1', 0, 0, 'x'));
      clock.advance(5_000); // the log is long idle
      let answer: () => void = () => undefined;
      const slowRead = store.getTask.bind(store);
      // The catch-up's first read waits until the test lets it go, as a busy database would.
      store.getTask = async (id: string) => {
        await new Promise<void>((r) => (answer = r));
        return slowRead(id);
      };
      let woken = 0;
      const opening = log.open('t1', { wake: () => woken++, shutdown: () => undefined });
      await vi.advanceTimersByTimeAsync(1_000); // the idle sweep runs while the store is asked
      answer();
      const sub = await opening;
      expect(log.size).toBe(1);
      events.output(chunk('i1', 'web1', 1, 1, 'y'));
      expect(woken).toBeGreaterThan(0);
      expect(sub.after(0, 10).map((e) => e.data?.data)).toContain('y');
      sub.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
