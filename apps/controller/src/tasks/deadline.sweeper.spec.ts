import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ControllerConfig } from '../config/controller.config';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import type { TaskRecord } from '../store/task-store.port';
import { STORE_RETRY } from '../results/results.consumer';
import { capturedLogger } from '../../../../test/support/log-lines';
import { CompletionNotifier } from './completion.notifier';
import { BACKLOG_HOLD_MAX_MS, DeadlineSweeper } from './deadline.sweeper';

/** ms; the task is created then */
const T0 = Date.UTC(2026, 0, 1);
/** ms; the delivery deadline of both invocations */
const DELIVERY = T0 + 6_000;

const task: TaskRecord = {
  id: 't1',
  command: 'true',
  cwd: null,
  env: {},
  runAs: null,
  createdBy: 'alice',
  timeoutMs: 10_000,
  deliveryTimeoutMs: 5_000,
  killGraceMs: 1_000,
  state: 'running',
  createdAt: T0,
  finishedAt: null,
  hostCount: 2,
};

describe('DeadlineSweeper', () => {
  let clock: ManualClock;
  let store: SqliteTaskStore;
  let notifier: CompletionNotifier;
  let completed: string[][];
  let sweeper: DeadlineSweeper;
  /** what the results queue's backlog reads as (null: the broker cannot say) */
  let backlog: number | null;

  beforeEach(async () => {
    clock = new ManualClock(T0);
    store = new SqliteTaskStore(openDatabase(':memory:'));
    await store.createTask(task, [
      { id: 'i1', host: 'web1', deadlineAt: DELIVERY },
      { id: 'i2', host: 'web2', deadlineAt: DELIVERY },
    ]);
    notifier = new CompletionNotifier();
    completed = [];
    notifier.notify = (ids) => void completed.push([...ids]);
    const config = { sweepIntervalMs: 1_000 } as ControllerConfig;
    backlog = 0;
    sweeper = new DeadlineSweeper(config, store, notifier, pino({ level: 'silent' }), clock, {
      depth: () => Promise.resolve(backlog),
    });
  });
  afterEach(async () => {
    await sweeper.onModuleDestroy();
    await store.close();
  });

  it('marks a pending invocation undelivered at its delivery deadline, not one ms before, stamped with the clock', async () => {
    // web2's agent took it: running, with a deadline of now + timeout + kill grace + result grace.
    clock.set(T0 + 2_000);
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i2', host: 'web2', startedAt: T0 + 2_000, resultGraceMs: 500 }],
      clock.now(),
    );
    clock.set(DELIVERY - 1);
    expect(await sweeper.sweep()).toBe(0);
    clock.set(DELIVERY);
    expect(await sweeper.sweep()).toBe(1);
    expect(await sweeper.sweep()).toBe(0); // judged once
    const [web1, web2] = await store.getInvocations('t1');
    expect(web1).toMatchObject({
      state: 'undelivered',
      finishedAt: DELIVERY,
      reason: 'no agent took the command within its delivery timeout',
    });
    expect(web2.state).toBe('running');
    expect(completed).toEqual([[]]);
  });

  it('marks a running invocation lost at timeout + kill grace + result grace after it started, and completes the task', async () => {
    clock.set(T0 + 2_000);
    await store.applyUpdates(
      ['i1', 'i2'].map((id, n) => ({
        kind: 'started' as const,
        invocationId: id,
        host: `web${n + 1}`,
        startedAt: clock.now(),
        resultGraceMs: 500,
      })),
      clock.now(),
    );
    const lostAt = T0 + 2_000 + 10_000 + 1_000 + 500;
    expect(await sweeper.sweep(lostAt - 1)).toBe(0);
    clock.set(lostAt);
    expect(await sweeper.sweep()).toBe(2);
    expect((await store.getInvocations('t1')).map((r) => [r.state, r.finishedAt])).toEqual([
      ['lost', lostAt],
      ['lost', lostAt],
    ]);
    expect(await store.getTask('t1')).toMatchObject({ state: 'completed', finishedAt: lostAt });
    expect(completed).toEqual([['t1']]);
  });

  it('sweeps on its interval, at the time of the clock', async () => {
    vi.useFakeTimers();
    try {
      sweeper.start();
      clock.set(DELIVERY);
      await vi.advanceTimersByTimeAsync(999);
      expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['pending', 'pending']);
      await vi.advanceTimersByTimeAsync(1);
      expect((await store.getInvocations('t1')).map((r) => [r.state, r.finishedAt])).toEqual([
        ['undelivered', DELIVERY],
        ['undelivered', DELIVERY],
      ]);
    } finally {
      await sweeper.onModuleDestroy();
      vi.useRealTimers();
    }
  });

  it('holds its verdicts while replies wait unread in the results queue, for at most BACKLOG_HOLD_MAX_MS in a row', async () => {
    vi.useFakeTimers();
    try {
      sweeper.start();
      clock.set(DELIVERY);
      backlog = 250; // a started of web1 may be among them
      const states = async () => (await store.getInvocations('t1')).map((r) => r.state);
      await vi.advanceTimersByTimeAsync(5_000);
      expect(await states()).toEqual(['pending', 'pending']);
      // The queue read up: judged at the next tick.
      backlog = 0;
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await states()).toEqual(['undelivered', 'undelivered']);
    } finally {
      await sweeper.onModuleDestroy();
      vi.useRealTimers();
    }
  });

  it('judges anyway once a backlog has held it for BACKLOG_HOLD_MAX_MS, and when the broker cannot count the queue', async () => {
    vi.useFakeTimers();
    try {
      sweeper.start();
      clock.set(DELIVERY);
      backlog = 10;
      const states = async () => (await store.getInvocations('t1')).map((r) => r.state);
      await vi.advanceTimersByTimeAsync(1_000);
      clock.set(DELIVERY + BACKLOG_HOLD_MAX_MS - 1);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await states()).toEqual(['pending', 'pending']);
      clock.set(DELIVERY + BACKLOG_HOLD_MAX_MS);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await states()).toEqual(['undelivered', 'undelivered']);
      // Unknown is no backlog: nothing is held for a broker that cannot answer.
      await store.createTask({ ...task, id: 't2' }, [{ id: 'j1', host: 'web1', deadlineAt: clock.now() }]);
      backlog = null;
      await vi.advanceTimersByTimeAsync(1_000);
      expect((await store.getInvocations('t2')).map((r) => r.state)).toEqual(['undelivered']);
    } finally {
      await sweeper.onModuleDestroy();
      vi.useRealTimers();
    }
  });

  it('never overlaps its ticks while the broker is slow to count the queue, and sweeps nothing once destroyed', async () => {
    vi.useFakeTimers();
    const asked: (() => void)[] = [];
    const slow = new DeadlineSweeper(
      { sweepIntervalMs: 250 } as ControllerConfig,
      store,
      notifier,
      pino({ level: 'silent' }),
      clock,
      {
        // Answers "no backlog" only when the test says so: a broker slow to count.
        depth: () => new Promise((resolve) => asked.push(() => resolve(0))),
      },
    );
    let sweeps = 0;
    const realSweep = store.sweepOverdue.bind(store);
    store.sweepOverdue = (...args) => (sweeps++, realSweep(...args));
    try {
      slow.start();
      clock.set(DELIVERY);
      await vi.advanceTimersByTimeAsync(1_000); // four intervals, one tick waiting on the count
      expect(asked).toHaveLength(1);
      // Shutdown waits for the tick under way (the real count gives up after 1 s), which then sweeps nothing.
      const destroyed = slow.onModuleDestroy();
      asked.forEach((answer) => answer());
      await destroyed;
      await vi.advanceTimersByTimeAsync(1_000);
      expect(sweeps).toBe(0);
      expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['pending', 'pending']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('after a failed sweep, gives no verdict until the store has answered for as long as held results take to come back', async () => {
    vi.useFakeTimers();
    const realSweep = store.sweepOverdue.bind(store);
    const realFind = store.findOverdue.bind(store);
    let down = true;
    const away = () => Promise.reject(new Error('connect ECONNREFUSED'));
    store.sweepOverdue = (...args) => (down ? away() : realSweep(...args));
    store.findOverdue = (...args) => (down ? away() : realFind(...args));
    const states = async () => (await store.getInvocations('t1')).map((r) => r.state);
    try {
      sweeper.start();
      clock.set(DELIVERY);
      // Away for 20 s: every tick fails, nothing is judged.
      for (let i = 0; i < 20; i++) {
        clock.advance(1_000);
        await vi.advanceTimersByTimeAsync(1_000);
      }
      expect(await states()).toEqual(['pending', 'pending']);
      down = false;
      clock.advance(1_000);
      await vi.advanceTimersByTimeAsync(1_000); // the first tick it answers: a probe, no verdict
      const answeredAt = clock.now();
      // A result read before the outage may be in its retry pause for up to STORE_RETRY.maxMs from now.
      while (clock.now() < answeredAt + STORE_RETRY.maxMs) {
        clock.advance(1_000);
        await vi.advanceTimersByTimeAsync(1_000);
        expect(await states()).toEqual(['pending', 'pending']);
      }
      clock.advance(1_000);
      await vi.advanceTimersByTimeAsync(1_000);
      clock.advance(1_000);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await states()).toEqual(['undelivered', 'undelivered']);
    } finally {
      await sweeper.onModuleDestroy();
      vi.useRealTimers();
    }
  });

  it('logs a failing sweep once, then once per 30 s with a count, and once when sweeps work again', async () => {
    vi.useFakeTimers();
    const { logger, lines } = capturedLogger();
    const logged = new DeadlineSweeper({ sweepIntervalMs: 250 } as ControllerConfig, store, notifier, logger, clock, {
      depth: () => Promise.resolve(0),
    });
    const real = store.sweepOverdue.bind(store);
    let down = true;
    store.sweepOverdue = (...args) => (down ? Promise.reject(new Error('connect ECONNREFUSED')) : real(...args));
    try {
      logged.start();
      // 50 s away: each failure holds the sweeps for the results' retry, then they fail again.
      for (let t = 0; t < 50_000; t += 250) {
        clock.advance(250);
        await vi.advanceTimersByTimeAsync(250);
      }
      down = false;
      for (let t = 0; t < STORE_RETRY.maxMs + 1_000; t += 250) {
        clock.advance(250);
        await vi.advanceTimersByTimeAsync(250);
      }
      const mine = lines.filter((l) => l.msg !== 'invocation deadline passed');
      expect(mine.map((l) => [l.level, l.msg])).toEqual([
        [50, 'deadline sweep failed; no verdict until the store answers and held replies are stored'],
        [50, 'deadline sweep failed; no verdict until the store answers and held replies are stored'],
        [30, 'deadline sweeps resumed'],
      ]);
      expect(mine[0]).toMatchObject({ failures: 1, err: 'connect ECONNREFUSED' });
      // Sweeps at 0.25 s, then every 5.25 s (held for the results' retry): 31.75 s is the 7th.
      expect(mine[1]).toMatchObject({ failures: 6 });
      expect(mine[2]).toMatchObject({ failures: 10 });
    } finally {
      await logged.onModuleDestroy();
      vi.useRealTimers();
    }
  });

  it('marks more than one batch of overdue invocations in one sweep', async () => {
    const many = Array.from({ length: 1_203 }, (_, i) => ({ id: `m${i}`, host: `h${i}`, deadlineAt: DELIVERY }));
    await store.createTask({ ...task, id: 't2', hostCount: many.length }, many);
    expect(await sweeper.sweep(DELIVERY)).toBe(2 + 1_203);
    expect(await store.countByState('t2')).toEqual({ undelivered: 1_203 });
  });
});
