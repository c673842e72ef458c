import { beforeEach, describe, expect, it } from 'vitest';
import { type OpenStore, result, started, task, useStore } from './task-store.contract.fixtures';
import type { RollingProgress, RollingStep, TaskStore } from './task-store.port';

/** Hosts of the rolling task, in the order given (not sorted: they are sent in this order). */
const ROLLING = ['web3', 'web1', 'web10', 'web2'];
const REASONS = { pending: 'no agent took it', running: 'no result' };

/** Cancels, rolling steps and the deadline sweep, on every adapter. */
export function describeCancelRollingSweep(open: OpenStore): void {
  describe('cancel, rolling runs and the deadline sweep', () => {
    const ctx = useStore(open, async (s) => {
      await s.createTask(task('t1'), [
        { id: 'i1', host: 'a', deadlineAt: 7_000 },
        { id: 'i2', host: 'b', deadlineAt: 8_000 },
      ]);
      await s.createTask(
        task('r1', 1_000, { concurrency: 2, maxErrors: 0, hostCount: ROLLING.length }),
        ROLLING.map((host, n) => ({ id: `r${n}`, host, deadlineAt: null })),
      );
    });
    let store: TaskStore;
    beforeEach(() => {
      store = ctx.store;
    });
    const send = (n: number) => (): RollingStep => ({ send: n });

    it('cancels pending invocations at once, leaves running ones to their agent, and ends the task cancelled', async () => {
      await store.applyUpdates([started('i2', 'b')], 2_000);
      const out = await store.requestCancel('t1', null, 'cancelled by alice', 3_000);
      expect(out.pending.map((r) => [r.id, r.state])).toEqual([['i1', 'pending']]);
      expect(out.running.map((r) => [r.id, r.state])).toEqual([['i2', 'running']]);
      expect(out.completed).toBe(false);
      expect(ctx.heard.at(-1)).toEqual([{ invocationId: 'i1', taskId: 't1', state: 'cancelled', kind: 'verdict' }]);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'cancelled', reason: 'cancelled by alice' });
      const { completedTaskIds } = await store.applyUpdates([result('i2', 'b', 'cancelled')], 4_000);
      expect(completedTaskIds).toEqual(['t1']);
      expect(await store.getTask('t1')).toMatchObject({ state: 'cancelled', finishedAt: 4_000 });
    });

    it('cancels only the hosts asked, and nothing for an unknown task or one already done', async () => {
      const out = await store.requestCancel('t1', new Set(['b']), 'x', 3_000);
      expect(out).toMatchObject({ pending: [{ id: 'i2' }], running: [], completed: false });
      expect((await store.getInvocations('t1')).map((r) => r.state)).toEqual(['pending', 'cancelled']);
      expect(await store.requestCancel('nope', null, 'x', 3_000)).toEqual({
        pending: [],
        running: [],
        completed: false,
      });
      await store.applyUpdates([result('i1', 'a', 'succeeded')], 4_000);
      // The task asked to be cancelled ends `cancelled` even though its last host succeeded.
      expect(await store.getTask('t1')).toMatchObject({ state: 'cancelled' });
      expect(await store.requestCancel('t1', null, 'x', 5_000)).toEqual({ pending: [], running: [], completed: false });
    });

    it('sends a rolling run in the order its hosts were given, counting its progress in the step', async () => {
      const seen: RollingProgress[] = [];
      const decide = (p: RollingProgress): RollingStep => (seen.push(p), { send: 3 });
      const out = await store.advanceRolling('r1', decide, 9_000, 2_000);
      expect(out).toEqual({
        claimed: [
          { id: 'r0', host: 'web3' },
          { id: 'r1', host: 'web1' },
          { id: 'r2', host: 'web10' },
        ],
        skipped: 0,
        completed: false,
      });
      expect(seen).toEqual([{ total: 4, unsent: 4, inFlight: 0, failed: 0, concurrency: 2, maxErrors: 0 }]);
      expect((await store.getInvocations('r1')).find((r) => r.id === 'r0')).toMatchObject({ sentAt: 2_000 });
      expect(await store.findOverdue(9_000, 10)).toHaveLength(5); // i1, i2 and the three sent
      expect(await store.rollingTaskIds()).toEqual(['r1']);
      await store.applyUpdates([result('r0', 'web3', 'failed')], 3_000);
      await store.advanceRolling('r1', (p) => (seen.push(p), { send: 0 }), 9_000, 3_000);
      expect(seen[1]).toMatchObject({ total: 4, unsent: 1, inFlight: 2, failed: 1 });
    });

    it('skips every unsent host when the budget is spent, and completes the task once the rest end', async () => {
      await store.advanceRolling('r1', send(2), 9_000, 2_000);
      await store.applyUpdates([result('r0', 'web3', 'failed'), result('r1', 'web1', 'succeeded')], 3_000);
      ctx.heard.length = 0;
      const out = await store.advanceRolling('r1', () => ({ send: 0, skipReason: 'budget spent' }), 9_000, 4_000);
      expect(out).toEqual({ claimed: [], skipped: 2, completed: true });
      expect(ctx.heard).toEqual([
        [
          { invocationId: 'r2', taskId: 'r1', state: 'skipped', kind: 'verdict' },
          { invocationId: 'r3', taskId: 'r1', state: 'skipped', kind: 'verdict' },
        ],
      ]);
      expect((await store.getInvocations('r1')).find((r) => r.id === 'r3')).toMatchObject({
        state: 'skipped',
        reason: 'budget spent',
        finishedAt: 4_000,
        sentAt: null,
      });
      expect(await store.getTask('r1')).toMatchObject({ state: 'completed', finishedAt: 4_000 });
      expect(await store.rollingTaskIds()).toEqual([]);
    });

    it('leaves a task alone that is not running or has nothing unsent, and a cancel makes the unsent cancelled', async () => {
      const never = (): RollingStep => {
        throw new Error('decide must not be called');
      };
      expect(await store.advanceRolling('t1', never, 9_000, 2_000)).toEqual({
        claimed: [],
        skipped: 0,
        completed: false,
      });
      expect(await store.advanceRolling('nope', never, 9_000, 2_000)).toEqual({
        claimed: [],
        skipped: 0,
        completed: false,
      });
      await store.advanceRolling('r1', send(1), 9_000, 2_000);
      const out = await store.requestCancel('r1', null, 'stop', 3_000);
      expect(out.pending.map((r) => r.id).sort()).toEqual(['r0', 'r1', 'r2', 'r3']);
      expect(out.completed).toBe(true);
      expect(await store.getTask('r1')).toMatchObject({ state: 'cancelled' });
      expect(await store.advanceRolling('r1', never, 9_000, 4_000)).toEqual({
        claimed: [],
        skipped: 0,
        completed: false,
      });
    });

    it('sweeps overdue invocations once: pending ones undelivered, running ones lost, earliest first', async () => {
      await store.applyUpdates([started('i2', 'b', 0)], 2_000); // running deadline 2_000 + 11_000
      const first = await store.sweepOverdue(7_000, 10, REASONS);
      expect(first).toEqual({
        swept: [{ invocationId: 'i1', taskId: 't1', host: 'a', state: 'pending' }],
        completedTaskIds: [],
      });
      expect(await store.sweepOverdue(7_000, 10, REASONS)).toEqual({ swept: [], completedTaskIds: [] });
      const second = await store.sweepOverdue(13_000, 10, REASONS);
      expect(second).toEqual({
        swept: [{ invocationId: 'i2', taskId: 't1', host: 'b', state: 'running' }],
        completedTaskIds: ['t1'],
      });
      expect(ctx.heard.at(-1)).toEqual([{ invocationId: 'i2', taskId: 't1', state: 'lost', kind: 'verdict' }]);
      expect((await store.getInvocations('t1')).map((r) => [r.state, r.reason, r.finishedAt])).toEqual([
        ['undelivered', 'no agent took it', 7_000],
        ['lost', 'no result', 13_000],
      ]);
      expect(await store.getTask('t1')).toMatchObject({ state: 'completed', finishedAt: 13_000 });
    });

    it('sweeps at most `limit` a batch, never an unsent invocation, and a late result still wins', async () => {
      expect((await store.sweepOverdue(60_000, 1, REASONS)).swept.map((o) => o.invocationId)).toEqual(['i1']);
      expect((await store.sweepOverdue(60_000, 5, REASONS)).swept.map((o) => o.invocationId)).toEqual(['i2']);
      expect((await store.getInvocations('r1')).map((r) => r.state)).toEqual([
        'pending',
        'pending',
        'pending',
        'pending',
      ]);
      expect((await store.applyUpdates([result('i1', 'a', 'succeeded')], 61_000)).applied).toBe(1);
      expect((await store.getInvocations('t1'))[0]).toMatchObject({ state: 'succeeded' });
    });

    it('counts what is under way', async () => {
      expect(await store.activity()).toEqual({ pending: 6, running: 0, tasksRunning: 2 });
      await store.applyUpdates([started('i1', 'a'), result('i2', 'b', 'succeeded')], 2_000);
      expect(await store.activity()).toEqual({ pending: 4, running: 1, tasksRunning: 2 });
    });
  });
}
