import { describe, expect, it } from 'vitest';
import { describeCancelRollingSweep } from './task-store.contract.cancel';
import { type OpenStore, result, started, task, useStore } from './task-store.contract.fixtures';
import { describeJournaledInvariant } from './task-store.contract.journal';
import { describeTransfers } from './task-store.contract.files';
import { describeListFilters } from './task-store.contract.list';
import { describeExactOutput } from './task-store.contract.output';
import type { InvocationUpdate } from './task-store.port';

export type { OpenStore, StoreUnderTest } from './task-store.contract.fixtures';

/** Hosts of the invocations the basic tests create. */
const HOST: Record<string, string> = { i1: 'a', i2: 'b' };
const res = (id: string, state: 'succeeded' | 'failed' | 'rejected', stdout = 'out', host = HOST[id]) =>
  result(id, host, state, stdout);

/**
 * The behaviour every {@link TaskStore} adapter shares, run by each adapter's spec with `open`
 * giving it a store on empty tables for each test: SQLite's unit spec and PostgreSQL's int-spec.
 */
export function describeTaskStoreContract(label: string, open: OpenStore): void {
  describe(`${label}: the TaskStore contract`, () => {
    describeBasics(open);
    describeJournaledInvariant(open);
    describeExactOutput(open);
    describeCancelRollingSweep(open);
    describeTransfers(open);
    describeListFilters(open);
  });
}

function describeBasics(open: OpenStore): void {
  describe('tasks and results', () => {
    const ctx = useStore(open, (store) =>
      store.createTask(task('t1'), [
        { id: 'i1', host: 'a', deadlineAt: 7_000 },
        { id: 'i2', host: 'b', deadlineAt: 7_000 },
      ]),
    );

    it('changes an invocation only for the host it belongs to', async () => {
      const { store } = ctx;
      expect((await store.applyUpdates([res('i1', 'succeeded', 'forged', 'b')], 4_000)).applied).toBe(0);
      expect((await store.applyUpdates([started('i1', 'b')], 2_000)).applied).toBe(0);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ host: 'a', state: 'pending', stdout: '' });
      const rejected = { ...res('i1', 'rejected'), code: 'policy' } as InvocationUpdate;
      expect((await store.applyUpdates([rejected], 4_000)).applied).toBe(1);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'rejected', rejectCode: 'policy' });
      expect(await store.getTask('t1')).toMatchObject({ createdBy: 'alice', runAs: null });
    });

    it('reads only the invocations asked for, of that task only, and states without output', async () => {
      const { store } = ctx;
      await store.createTask(task('t2'), [{ id: 'j1', host: 'a', deadlineAt: 7_000 }]);
      await store.applyUpdates([res('i2', 'failed', 'bee'), res('i1', 'succeeded', 'ay')], 4_000);
      const rows = await store.getInvocationsByIds('t1', ['i2', 'j1', 'nope', 'i1', 'i2']);
      expect(rows.map((r) => [r.id, r.host, r.state, r.stdout])).toEqual([
        ['i1', 'a', 'succeeded', 'ay'],
        ['i2', 'b', 'failed', 'bee'],
      ]);
      expect(await store.getInvocationsByIds('t1', ['i2'])).toEqual([(await store.getInvocations('t1'))[1]]);
      expect(await store.getInvocationsByIds('t1', [])).toEqual([]);
      expect(await store.getInvocationsByIds('nope', ['i1'])).toEqual([]);
      expect(await store.invocationStates('t1')).toEqual([
        { id: 'i1', state: 'succeeded' },
        { id: 'i2', state: 'failed' },
      ]);
      expect(await store.invocationStates('nope')).toEqual([]);
    });

    it('creates one pending row per host from the moment the task exists', async () => {
      const { store } = ctx;
      expect((await store.getInvocations('t1')).map((r) => [r.host, r.state, r.sentAt])).toEqual([
        ['a', 'pending', 1_000],
        ['b', 'pending', 1_000],
      ]);
      expect(await store.getTask('t1')).toEqual({
        ...task('t1'),
        concurrency: null,
        maxErrors: null,
        rerunOf: null,
        live: true,
      });
      expect(await store.getTask('nope')).toBeNull();
      expect(await store.getInvocations('nope')).toEqual([]);
      expect((await store.hostsOf('t1')).sort()).toEqual(['a', 'b']);
      expect(await store.invocationOwner('i2')).toEqual({ taskId: 't1', host: 'b' });
      expect(await store.invocationOwner('nope')).toBeNull();
      expect(await store.invocationOwners(['i2', 'nope', 'i1'])).toEqual(
        new Map([
          ['i2', { taskId: 't1', host: 'b' }],
          ['i1', { taskId: 't1', host: 'a' }],
        ]),
      );
      expect(await store.invocationOwners([])).toEqual(new Map());
    });

    it('refuses a task id that exists, and stores nothing of the second', async () => {
      const { store } = ctx;
      await expect(store.createTask(task('t1'), [{ id: 'x1', host: 'c', deadlineAt: 7_000 }])).rejects.toThrow();
      expect(await store.invocationOwner('x1')).toBeNull();
      expect((await store.getInvocations('t1')).map((r) => r.host)).toEqual(['a', 'b']);
    });

    it('keeps what a task says: its limits, rerun, live flag, run-as and env', async () => {
      const { store } = ctx;
      const t = task('t2', 2_000, { concurrency: 3, maxErrors: 1, rerunOf: 't1', live: false, runAs: 'deploy' });
      await store.createTask({ ...t, env: { B: 'x y', C: '' } }, []);
      expect(await store.getTask('t2')).toEqual({ ...t, env: { B: 'x y', C: '' } });
    });

    it('orders results by host byte-wise, whatever the database locale', async () => {
      const { store } = ctx;
      const hosts = ['b', 'B', '_x', 'a10', 'a9', 'é'];
      await store.createTask(
        task('t2'),
        hosts.map((host, n) => ({ id: `o${n}`, host, deadlineAt: 7_000 })),
      );
      expect((await store.getInvocations('t2')).map((r) => r.host)).toEqual(['B', '_x', 'a10', 'a9', 'b', 'é']);
    });

    it('stores a result once: a redelivered copy changes nothing', async () => {
      const { store } = ctx;
      expect((await store.applyUpdates([res('i1', 'succeeded', 'first')], 4_000)).applied).toBe(1);
      expect((await store.applyUpdates([res('i1', 'failed', 'second')], 5_000)).applied).toBe(0);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'succeeded', stdout: 'first', exitCode: 0 });
    });

    it('applies the updates of one call in order: started then result of one invocation, and a repeat', async () => {
      const { store } = ctx;
      const out = await store.applyUpdates(
        [started('i1', 'a'), res('i2', 'failed'), res('i1', 'succeeded'), res('i1', 'failed'), started('i2', 'b')],
        4_000,
      );
      expect(out).toEqual({ applied: 3, completedTaskIds: ['t1'] });
      expect(ctx.heard).toEqual([
        [
          { invocationId: 'i1', taskId: 't1', state: 'running', kind: 'started' },
          { invocationId: 'i2', taskId: 't1', state: 'failed', kind: 'result' },
          { invocationId: 'i1', taskId: 't1', state: 'succeeded', kind: 'result' },
        ],
      ]);
      expect((await store.getInvocations('t1')).map((r) => [r.state, r.startedAt])).toEqual([
        ['succeeded', 2_000],
        ['failed', 2_000],
      ]);
    });

    it('tells onApplied nothing when nothing changed, and ignores unknown invocations', async () => {
      const { store } = ctx;
      expect(await store.applyUpdates([res('nope', 'succeeded', 'x', 'a')], 4_000)).toEqual({
        applied: 0,
        completedTaskIds: [],
      });
      expect(await store.applyUpdates([], 4_000)).toEqual({ applied: 0, completedTaskIds: [] });
      expect(ctx.heard).toEqual([]);
    });

    it('answers ids holding U+0000 (which PostgreSQL cannot store) as unknown ones, and applies the rest of the batch', async () => {
      const { store } = ctx;
      const nul = 'i1\u0000x';
      expect(await store.getTask('t1\u0000')).toBeNull();
      expect(await store.getInvocations('t1\u0000')).toEqual([]);
      expect(await store.getOutput('t1\u0000', 'a', 'stdout')).toBeNull();
      expect(await store.getOutput('t1', 'a\u0000', 'stdout')).toBeNull();
      expect(await store.hostsOf('t1\u0000')).toEqual([]);
      expect(await store.countByState('t1\u0000')).toEqual({});
      expect(await store.invocationOwner(nul)).toBeNull();
      expect(await store.invocationOwners([nul, 'i1'])).toEqual(new Map([['i1', { taskId: 't1', host: 'a' }]]));
      expect(await store.requestCancel('t1\u0000', null, 'stop', 4_000)).toEqual({
        pending: [],
        running: [],
        completed: false,
      });
      const rolling = await store.advanceRolling('t1\u0000', () => ({ send: 1 }), 9_000, 4_000);
      expect(rolling).toEqual({ claimed: [], skipped: 0, completed: false });
      const batch = [
        res(nul as 'i1', 'succeeded', 'x', 'a'),
        res('i1', 'failed', 'x', 'a\u0000'),
        res('i2', 'succeeded'),
      ];
      expect(await store.applyUpdates(batch, 4_000)).toEqual({ applied: 1, completedTaskIds: [] });
      expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['pending', 'succeeded']);
    });

    it('completes the task when the last invocation becomes terminal, and says so once', async () => {
      const { store } = ctx;
      expect((await store.applyUpdates([res('i1', 'succeeded')], 4_000)).completedTaskIds).toEqual([]);
      expect((await store.applyUpdates([res('i2', 'failed')], 4_500)).completedTaskIds).toEqual(['t1']);
      expect(await store.getTask('t1')).toMatchObject({ state: 'completed', finishedAt: 4_500 });
      expect((await store.applyUpdates([res('i2', 'failed')], 4_600)).completedTaskIds).toEqual([]);
      expect(await store.countByState('t1')).toEqual({ succeeded: 1, failed: 1 });
      expect(await store.countByState('nope')).toEqual({});
    });

    it('sets a running deadline of now + timeout + kill grace + result grace when the agent says started', async () => {
      const { store } = ctx;
      await store.applyUpdates([started('i1', 'a')], 2_000);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'running', startedAt: 1_500 });
      const running = async (now: number) => (await store.findOverdue(now, 10)).filter((o) => o.state === 'running');
      expect(await running(2_000 + 10_000 + 1_000 + 499)).toEqual([]);
      expect(await running(2_000 + 10_000 + 1_000 + 500)).toEqual([
        { invocationId: 'i1', taskId: 't1', host: 'a', state: 'running' },
      ]);
    });

    it('finds pending invocations past their delivery deadline, and forgets them once judged', async () => {
      const { store } = ctx;
      expect(await store.findOverdue(6_999, 10)).toEqual([]);
      expect((await store.findOverdue(7_000, 10)).map((o) => o.state)).toEqual(['pending', 'pending']);
      expect(await store.findOverdue(7_000, 1)).toHaveLength(1);
      await store.applyUpdates(
        [{ kind: 'verdict', invocationId: 'i1', state: 'undelivered', reason: 'x', at: 7_000 }],
        7_000,
      );
      expect((await store.findOverdue(7_000, 10)).map((o) => o.invocationId)).toEqual(['i2']);
    });

    it('lets an agent report that it did run override an inferred undelivered or lost, and reopens the task', async () => {
      const { store } = ctx;
      await store.applyUpdates(
        [
          { kind: 'verdict', invocationId: 'i1', state: 'undelivered', reason: 'late', at: 7_000 },
          { kind: 'verdict', invocationId: 'i2', state: 'lost', reason: 'silent', at: 7_000 },
        ],
        7_000,
      );
      expect((await store.getTask('t1'))!.state).toBe('completed');
      await store.applyUpdates([{ ...started('i1', 'a'), startedAt: 6_900 } as InvocationUpdate], 7_100);
      expect(await store.getTask('t1')).toMatchObject({ state: 'running', finishedAt: null });
      const { completedTaskIds } = await store.applyUpdates([res('i1', 'succeeded'), res('i2', 'failed')], 7_200);
      expect(completedTaskIds).toEqual(['t1']);
      expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['succeeded', 'failed']);
    });

    it('never lets a rejection or a verdict override a terminal state', async () => {
      const { store } = ctx;
      await store.applyUpdates(
        [{ kind: 'verdict', invocationId: 'i1', state: 'undelivered', reason: 'late', at: 7_000 }],
        7_000,
      );
      expect((await store.applyUpdates([res('i1', 'rejected')], 7_100)).applied).toBe(0);
      await store.applyUpdates([res('i2', 'succeeded')], 7_000);
      const lost: InvocationUpdate = { kind: 'verdict', invocationId: 'i2', state: 'lost', reason: 'x', at: 8_000 };
      expect((await store.applyUpdates([lost], 8_000)).applied).toBe(0);
      expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['undelivered', 'succeeded']);
    });

    it('keeps everything across a reopen (a controller restart)', async () => {
      await ctx.store.applyUpdates([res('i1', 'succeeded', 'kept')], 4_000);
      const store = await ctx.reopen();
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'succeeded', stdout: 'kept' });
      expect((await store.findOverdue(7_000, 10)).map((o) => o.invocationId)).toEqual(['i2']);
    });

    it('rejects every call once closed, and closes twice without error', async () => {
      const { store } = ctx;
      await store.close();
      await store.close();
      await expect(store.getTask('t1')).rejects.toThrow();
    });

    it('lists tasks newest first with their counts', async () => {
      const { store } = ctx;
      await store.createTask(task('t2', 2_000), [{ id: 'j1', host: 'a', deadlineAt: 9_000 }]);
      expect((await store.listTasks(10)).map((t) => [t.task.id, t.counts])).toEqual([
        ['t2', { pending: 1 }],
        ['t1', { pending: 2 }],
      ]);
      expect(await store.listTasks(1)).toHaveLength(1);
    });

    it('lists only the tasks whose every host is visible, in the store, asking about no task past the page', async () => {
      const { store } = ctx;
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

    it('lists a host-limited page across tasks created in the same millisecond, each once, newest id first', async () => {
      const { store } = ctx;
      // more than one chunk of PostgreSQL's host-limited listing (100 tasks)
      const ids = Array.from({ length: 130 }, (_, n) => `v${String(n).padStart(3, '0')}`);
      for (const id of ids) await store.createTask(task(id, 5_000), [{ id: `${id}-1`, host: 'a', deadlineAt: 9_000 }]);
      const page = await store.listTasksWithin(300, (h) => h === 'a');
      expect(page.map((t) => t.task.id)).toEqual([...ids].reverse());
    });
  });
}
