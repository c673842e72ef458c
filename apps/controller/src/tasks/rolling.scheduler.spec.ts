import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ManualClock } from '@warren/runtime';
import pino, { type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { capturedLogger } from '../../../../test/support/log-lines';
import type { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import type { TaskRecord } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';
import type { DispatcherService } from './dispatcher.service';
import { RollingScheduler } from './rolling.scheduler';
import { TaskChanges } from './task-changes';

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
/** ms; when every test starts */
const T0 = Date.UTC(2026, 0, 1);
const clock = new ManualClock(T0);

function task(id: string, limits: { concurrency: number; maxErrors: number | null }): TaskRecord {
  return {
    id,
    command: 'x',
    cwd: null,
    env: {},
    runAs: null,
    createdBy: 'a',
    timeoutMs: 10_000,
    deliveryTimeoutMs: 5_000,
    killGraceMs: 1_000,
    state: 'running',
    createdAt: clock.now(),
    finishedAt: null,
    hostCount: HOSTS.length,
    ...limits,
  };
}

describe('RollingScheduler', () => {
  let dir: string;
  let path: string;
  let stores: SqliteTaskStore[];
  /** hosts of each dispatch */
  let sent: string[][];
  /** hosts the fake dispatcher refuses at once, as it does unknown hosts */
  let unknown: Set<string>;

  function open(logger: Logger = pino({ level: 'silent' }), sweepIntervalMs = 10_000) {
    const store = new SqliteTaskStore(path);
    stores.push(store);
    const dispatcher = {
      dispatch: async (_t: TaskRecord, invs: { id: string; host: string }[]) => {
        sent.push(invs.map((i) => i.host));
        const refused = invs.filter((i) => unknown.has(i.host));
        await store.applyUpdates(
          refused.map((i) => ({
            kind: 'verdict',
            invocationId: i.id,
            state: 'unknown_host',
            reason: 'no queue',
            at: clock.now(),
          })),
          clock.now(),
        );
      },
    } as unknown as DispatcherService;
    const config = Object.assign(new ControllerConfig(), { deliveryGraceMs: 1000, sweepIntervalMs });
    const scheduler = new RollingScheduler(
      store,
      dispatcher,
      { connected: true } as BrokerService,
      config,
      new TaskChanges(new TaskActivityNotifier(), new CompletionNotifier()),
      logger,
      clock,
    );
    return { store, scheduler };
  }

  async function create(store: SqliteTaskStore, id: string, limits: { concurrency: number; maxErrors: number | null }) {
    await store.createTask(
      task(id, limits),
      HOSTS.map((host) => ({ id: `${id}-${host}`, host, deadlineAt: null })),
    );
  }

  async function finish(store: SqliteTaskStore, id: string, host: string, state: 'succeeded' | 'failed') {
    const out = { data: '', bytes: 0, truncated: false };
    await store.applyUpdates(
      [
        {
          kind: 'result',
          invocationId: `${id}-${host}`,
          host,
          state,
          exitCode: state === 'succeeded' ? 0 : 1,
          signal: null,
          stdout: out,
          stderr: out,
          startedAt: 1,
          finishedAt: 2,
          durationMs: 1,
          reason: null,
        },
      ],
      clock.now(),
    );
  }

  const states = async (store: SqliteTaskStore, id: string) =>
    (await store.getInvocations(id)).map((r) => `${r.host}:${r.state}${r.sentAt === null ? '(unsent)' : ''}`);

  beforeEach(() => {
    clock.set(T0);
    dir = mkdtempSync(join(tmpdir(), 'warren-rolling-'));
    path = join(dir, 'db.sqlite');
    stores = [];
    sent = [];
    unknown = new Set();
  });
  afterEach(async () => {
    for (const s of stores) await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never has more than `concurrency` sent and unfinished, and sends every host in order', async () => {
    const { store, scheduler } = open();
    await create(store, 't1', { concurrency: 2, maxErrors: null });
    await scheduler.advance('t1');
    await scheduler.advance('t1'); // a second step with no free slot sends nothing
    expect(sent).toEqual([['h1', 'h2']]);
    for (const h of HOSTS) {
      await finish(store, 't1', h, 'succeeded');
      await scheduler.advance('t1');
    }
    expect(sent).toEqual([['h1', 'h2'], ['h3'], ['h4'], ['h5'], ['h6']]);
    expect((await store.getTask('t1'))!.state).toBe('completed');
  });

  it('gives each host its delivery deadline (timeout + grace) from the moment it is sent, not from creation', async () => {
    const { store, scheduler } = open();
    await create(store, 't1', { concurrency: 2, maxErrors: null });
    await scheduler.advance('t1');
    clock.advance(1_000);
    await finish(store, 't1', 'h1', 'succeeded');
    await scheduler.advance('t1');
    expect(sent).toEqual([['h1', 'h2'], ['h3']]);
    const overdue = async (at: number) => (await store.findOverdue(at, 10)).map((o) => o.host);
    expect(await overdue(T0 + 5_000 + 1_000 - 1)).toEqual([]);
    expect(await overdue(T0 + 5_000 + 1_000)).toEqual(['h2']);
    expect(await overdue(T0 + 1_000 + 5_000 + 1_000 - 1)).toEqual(['h2']);
    expect(await overdue(T0 + 1_000 + 5_000 + 1_000)).toEqual(['h2', 'h3']);
    expect((await store.getInvocations('t1')).map((r) => r.sentAt)).toEqual([T0, T0, T0 + 1_000, null, null, null]);
  });

  it('skips the hosts never sent once more than maxErrors did not succeed, and the task completes', async () => {
    const { store, scheduler } = open();
    await create(store, 't1', { concurrency: 2, maxErrors: 1 });
    await scheduler.advance('t1');
    await finish(store, 't1', 'h1', 'failed');
    await scheduler.advance('t1'); // one failure is within the budget: h3 goes
    await finish(store, 't1', 'h2', 'failed');
    await scheduler.advance('t1');
    expect(sent).toEqual([['h1', 'h2'], ['h3']]);
    expect(await states(store, 't1')).toEqual([
      'h1:failed',
      'h2:failed',
      'h3:pending',
      'h4:skipped(unsent)',
      'h5:skipped(unsent)',
      'h6:skipped(unsent)',
    ]);
    expect((await store.getInvocations('t1'))[3].reason).toBe(
      'error budget exhausted: 2 of 3 sent did not succeed (at most 1 allowed); never sent',
    );
    await finish(store, 't1', 'h3', 'succeeded');
    expect((await store.getTask('t1'))!.state).toBe('completed');
  });

  it('counts hosts refused at dispatch against the budget and moves on at once', async () => {
    const { store, scheduler } = open();
    unknown = new Set(['h1', 'h2', 'h3']);
    await create(store, 't1', { concurrency: 2, maxErrors: null });
    await scheduler.advance('t1');
    expect(sent).toEqual([['h1', 'h2'], ['h3', 'h4'], ['h5']]);
  });

  it('never sends a host of a cancelled task', async () => {
    const { store, scheduler } = open();
    await create(store, 't1', { concurrency: 2, maxErrors: null });
    await scheduler.advance('t1');
    const { pending } = await store.requestCancel('t1', null, 'cancelled by test', clock.now());
    expect(pending.map((r) => r.host)).toEqual(HOSTS);
    await scheduler.advance('t1');
    expect(sent).toEqual([['h1', 'h2']]);
    expect((await states(store, 't1')).slice(2)).toEqual([
      'h3:cancelled(unsent)',
      'h4:cancelled(unsent)',
      'h5:cancelled(unsent)',
      'h6:cancelled(unsent)',
    ]);
    expect(await store.rollingTaskIds()).toEqual([]);
  });

  it('resumes a rolling task after a controller restart from what the store holds', async () => {
    const first = open();
    await create(first.store, 't1', { concurrency: 2, maxErrors: null });
    await first.scheduler.advance('t1');
    await first.store.close();
    const second = open();
    await finish(second.store, 't1', 'h1', 'succeeded');
    expect(await second.store.rollingTaskIds()).toEqual(['t1']);
    await second.scheduler.advance('t1');
    expect(sent).toEqual([['h1', 'h2'], ['h3']]);
  });

  it('never takes an invocation stored before rolling runs existed for an unsent one', async () => {
    const db = new Database(path);
    db.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, command TEXT NOT NULL, cwd TEXT, env TEXT NOT NULL, timeout_ms INTEGER NOT NULL, delivery_timeout_ms INTEGER NOT NULL,
      kill_grace_ms INTEGER NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL, finished_at INTEGER, host_count INTEGER NOT NULL);
      CREATE TABLE invocations (id TEXT PRIMARY KEY, task_id TEXT NOT NULL, host TEXT NOT NULL, state TEXT NOT NULL, exit_code INTEGER, signal TEXT,
      stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '', stdout_bytes INTEGER NOT NULL DEFAULT 0, stderr_bytes INTEGER NOT NULL DEFAULT 0,
      stdout_truncated INTEGER NOT NULL DEFAULT 0, stderr_truncated INTEGER NOT NULL DEFAULT 0, reason TEXT, started_at INTEGER, finished_at INTEGER,
      duration_ms INTEGER, deadline_at INTEGER, updated_at INTEGER NOT NULL, UNIQUE (task_id, host));
      INSERT INTO tasks VALUES ('old', 'x', NULL, '{}', 1, 1, 1, 'running', 1, NULL, 1);
      INSERT INTO invocations (id, task_id, host, state, deadline_at, updated_at) VALUES ('i', 'old', 'h1', 'pending', 5, 1);`);
    db.close();
    const { store } = open();
    expect(await store.rollingTaskIds()).toEqual([]);
    expect((await store.getInvocations('old'))[0].sentAt).toBe(1);
  });

  it('logs the store away once, then once per 30 s with a count, and once when rolling tasks advance again', async () => {
    vi.useFakeTimers();
    const { logger, lines } = capturedLogger();
    const { store, scheduler } = open(logger, 250);
    await create(store, 't1', { concurrency: 2, maxErrors: null });
    const real = { ids: store.rollingTaskIds.bind(store), task: store.getTask.bind(store) };
    let down: 'read' | 'step' | null = 'read';
    const refused = () => Promise.reject(new Error('connect ECONNREFUSED'));
    store.rollingTaskIds = () => (down === 'read' ? refused() : real.ids());
    store.getTask = (id) => (down === 'step' ? refused() : real.task(id));
    const tick = async (ms: number) => {
      for (let t = 0; t < ms; t += 250) {
        clock.advance(250);
        await vi.advanceTimersByTimeAsync(250);
      }
    };
    try {
      scheduler.onApplicationBootstrap();
      await tick(20_000); // 80 ticks: the list is not read
      down = 'step';
      await tick(20_000); // 80 more: the list is read, the step fails
      down = null;
      await tick(250);
      expect(lines.map((l) => [l.level, l.msg, l.failures, l.taskId])).toEqual([
        [50, 'rolling tasks not advanced; retried on the next tick', 1, undefined],
        [50, 'rolling tasks not advanced; retried on the next tick', 120, 't1'],
        [20, 'rolling: sending the next hosts', undefined, 't1'],
        [30, 'rolling tasks advance again', 160, undefined],
      ]);
      expect(sent).toEqual([['h1', 'h2']]);
    } finally {
      scheduler.onModuleDestroy();
      vi.useRealTimers();
    }
  });
});
