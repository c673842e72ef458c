import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteTaskStore } from './sqlite-task.store';
import type { InvocationUpdate, TaskRecord } from './task-store.port';

const capture = (data: string) => ({ data, bytes: Buffer.byteLength(data), truncated: false });

function task(id: string, createdAt = 1_000): TaskRecord {
  return {
    id,
    command: 'echo hi',
    cwd: null,
    env: { A: '1' },
    timeoutMs: 10_000,
    deliveryTimeoutMs: 5_000,
    killGraceMs: 1_000,
    state: 'running',
    createdAt,
    finishedAt: null,
    hostCount: 2,
    runAs: null,
    createdBy: 'alice',
  };
}

/** Hosts of the invocations every test creates. */
const HOST: Record<string, string> = { i1: 'a', i2: 'b' };

function result(
  invocationId: string,
  state: 'succeeded' | 'failed' | 'rejected',
  stdout = 'out',
  host = HOST[invocationId],
): InvocationUpdate {
  return {
    kind: 'result',
    invocationId,
    host,
    state,
    exitCode: state === 'succeeded' ? 0 : 1,
    signal: null,
    stdout: capture(stdout),
    stderr: capture(''),
    startedAt: 2_000,
    finishedAt: 3_000,
    durationMs: 1_000,
    reason: null,
  };
}

describe('SqliteTaskStore', () => {
  let dir: string;
  let store: SqliteTaskStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-store-'));
    store = new SqliteTaskStore(join(dir, 'db.sqlite'));
    await store.createTask(task('t1'), [
      { id: 'i1', host: 'a', deadlineAt: 7_000 },
      { id: 'i2', host: 'b', deadlineAt: 7_000 },
    ]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('changes an invocation only for the host it belongs to', async () => {
    expect((await store.applyUpdates([result('i1', 'succeeded', 'forged', 'b')], 4_000)).applied).toBe(0);
    expect(
      (
        await store.applyUpdates(
          [{ kind: 'started', invocationId: 'i1', host: 'b', startedAt: 1_500, resultGraceMs: 500 }],
          2_000,
        )
      ).applied,
    ).toBe(0);
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ host: 'a', state: 'pending', stdout: '' });
    expect(
      (await store.applyUpdates([{ ...result('i1', 'rejected'), code: 'policy' } as InvocationUpdate], 4_000)).applied,
    ).toBe(1);
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'rejected', rejectCode: 'policy' });
    expect(await store.getTask('t1')).toMatchObject({ createdBy: 'alice', runAs: null });
  });

  it('creates one pending row per host from the moment the task exists', async () => {
    expect((await store.getInvocations('t1')).map((r) => [r.host, r.state])).toEqual([
      ['a', 'pending'],
      ['b', 'pending'],
    ]);
    expect(await store.getTask('t1')).toMatchObject({ state: 'running', env: { A: '1' }, hostCount: 2 });
  });

  it('stores a result once: a redelivered copy changes nothing', async () => {
    expect((await store.applyUpdates([result('i1', 'succeeded', 'first')], 4_000)).applied).toBe(1);
    expect((await store.applyUpdates([result('i1', 'failed', 'second')], 5_000)).applied).toBe(0);
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'succeeded', stdout: 'first', exitCode: 0 });
  });

  it('completes the task when the last invocation becomes terminal, and says so once', async () => {
    expect((await store.applyUpdates([result('i1', 'succeeded')], 4_000)).completedTaskIds).toEqual([]);
    expect((await store.applyUpdates([result('i2', 'failed')], 4_500)).completedTaskIds).toEqual(['t1']);
    expect(await store.getTask('t1')).toMatchObject({ state: 'completed', finishedAt: 4_500 });
    expect((await store.applyUpdates([result('i2', 'failed')], 4_600)).completedTaskIds).toEqual([]);
    expect(await store.countByState('t1')).toEqual({ succeeded: 1, failed: 1 });
  });

  it('sets a running deadline of now + timeout + kill grace + result grace when the agent says started', async () => {
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i1', host: 'a', startedAt: 1_500, resultGraceMs: 500 }],
      2_000,
    );
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'running', startedAt: 1_500 });
    const running = async (now: number) => (await store.findOverdue(now, 10)).filter((o) => o.state === 'running');
    expect(await running(2_000 + 10_000 + 1_000 + 499)).toEqual([]);
    expect(await running(2_000 + 10_000 + 1_000 + 500)).toEqual([
      { invocationId: 'i1', taskId: 't1', host: 'a', state: 'running' },
    ]);
  });

  it('finds pending invocations past their delivery deadline, and forgets them once judged', async () => {
    expect(await store.findOverdue(6_999, 10)).toEqual([]);
    expect((await store.findOverdue(7_000, 10)).map((o) => o.state)).toEqual(['pending', 'pending']);
    await store.applyUpdates(
      [{ kind: 'verdict', invocationId: 'i1', state: 'undelivered', reason: 'x', at: 7_000 }],
      7_000,
    );
    expect((await store.findOverdue(7_000, 10)).map((o) => o.invocationId)).toEqual(['i2']);
  });

  it('lets an agent report that it did run override an inferred undelivered or lost, and reopens the task', async () => {
    await store.applyUpdates(
      [
        { kind: 'verdict', invocationId: 'i1', state: 'undelivered', reason: 'late', at: 7_000 },
        { kind: 'verdict', invocationId: 'i2', state: 'lost', reason: 'silent', at: 7_000 },
      ],
      7_000,
    );
    expect((await store.getTask('t1'))!.state).toBe('completed');
    await store.applyUpdates(
      [{ kind: 'started', invocationId: 'i1', host: 'a', startedAt: 6_900, resultGraceMs: 500 }],
      7_100,
    );
    expect((await store.getTask('t1'))!.state).toBe('running');
    const { completedTaskIds } = await store.applyUpdates([result('i1', 'succeeded'), result('i2', 'failed')], 7_200);
    expect(completedTaskIds).toEqual(['t1']);
    expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['succeeded', 'failed']);
  });

  it('never lets a rejection or a verdict override a terminal state', async () => {
    await store.applyUpdates(
      [{ kind: 'verdict', invocationId: 'i1', state: 'undelivered', reason: 'late', at: 7_000 }],
      7_000,
    );
    expect((await store.applyUpdates([result('i1', 'rejected')], 7_100)).applied).toBe(0);
    await store.applyUpdates([result('i2', 'succeeded')], 7_000);
    expect(
      (
        await store.applyUpdates(
          [{ kind: 'verdict', invocationId: 'i2', state: 'lost', reason: 'x', at: 8_000 }],
          8_000,
        )
      ).applied,
    ).toBe(0);
    expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['undelivered', 'succeeded']);
  });

  it('keeps everything across a reopen of the file (a controller restart)', async () => {
    await store.applyUpdates([result('i1', 'succeeded', 'kept')], 4_000);
    await store.close();
    store = new SqliteTaskStore(join(dir, 'db.sqlite'));
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'succeeded', stdout: 'kept' });
    expect((await store.findOverdue(7_000, 10)).map((o) => o.invocationId)).toEqual(['i2']);
  });

  it('lists tasks newest first with their counts', async () => {
    await store.createTask(task('t2', 2_000), [{ id: 'j1', host: 'a', deadlineAt: 9_000 }]);
    expect((await store.listTasks(10)).map((t) => [t.task.id, t.counts])).toEqual([
      ['t2', { pending: 1 }],
      ['t1', { pending: 2 }],
    ]);
    expect(await store.listTasks(1)).toHaveLength(1);
  });

  it('lists only the tasks whose every host is visible, in the store, asking about no task past the page', async () => {
    // t1 (hosts a, b) is the oldest; then 50 tasks on a alone, 50 on c alone, interleaved, newest last.
    for (let n = 0; n < 100; n++)
      await store.createTask(task(`u${n}`, 2_000 + n), [{ id: `k${n}`, host: n % 2 ? 'a' : 'c', deadlineAt: 9_000 }]);
    const asked: string[] = [];
    const onlyA = (h: string) => (asked.push(h), h === 'a');
    const page = await store.listTasksWithin(3, onlyA);
    expect(page.map((t) => [t.task.id, t.counts])).toEqual([
      ['u99', { pending: 1 }],
      ['u97', { pending: 1 }],
      ['u95', { pending: 1 }],
    ]);
    // The newest 5 tasks (3 shown, 2 skipped) and nothing older: the cost follows the page.
    expect(asked).toHaveLength(5);
    expect((await store.listTasksWithin(100, (h) => h === 'a' || h === 'b')).map((t) => t.task.id)).toContain('t1');
    expect(await store.listTasksWithin(10, (h) => h === 'b')).toEqual([]);
  });
});
