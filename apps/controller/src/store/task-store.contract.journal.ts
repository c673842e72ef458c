import { beforeEach, describe, expect, it } from 'vitest';
import { type OpenStore, useStore } from './task-store.contract.fixtures';
import type { InvocationUpdate, TaskRecord, TaskStore } from './task-store.port';

const TASK: TaskRecord = {
  id: 't1',
  command: 'kill -9 $PPID; echo ran >> /tmp/side',
  cwd: null,
  env: {},
  timeoutMs: 10_000,
  deliveryTimeoutMs: 5_000,
  killGraceMs: 1_000,
  state: 'running',
  createdAt: 1_000,
  finishedAt: null,
  hostCount: 1,
  runAs: null,
  createdBy: 'alice',
};

const started: InvocationUpdate = {
  kind: 'started',
  invocationId: 'i1',
  host: 'h1',
  startedAt: 1_500,
  resultGraceMs: 500,
};
const interrupted: Extract<InvocationUpdate, { kind: 'interrupted' }> = {
  kind: 'interrupted',
  invocationId: 'i1',
  host: 'h1',
  reason: 'the agent stopped while it ran',
  at: 9_000,
};
/** What the deadline sweeper (without `pendingOnly`) and the dead-letter consumer (with) send. */
const undelivered = (pendingOnly: boolean): InvocationUpdate => ({
  kind: 'verdict',
  invocationId: 'i1',
  state: 'undelivered',
  reason: 'no agent took it',
  at: 8_000,
  pendingOnly,
});

/**
 * The invariant of issue 12: once an agent has journaled an invocation (and so sent its `started`
 * before the spawn, or reports it after a restart), no path leaves it `undelivered`, `pending` or
 * cancelled before it started.
 */
export function describeJournaledInvariant(open: OpenStore): void {
  describe('a command an agent journaled is never left undelivered, pending or cancelled before it started', () => {
    const ctx = useStore(open, (s) => s.createTask(TASK, [{ id: 'i1', host: 'h1', deadlineAt: 7_000 }]));
    let store: TaskStore;
    beforeEach(() => {
      store = ctx.store;
    });
    const state = async () => (await store.getInvocations('t1'))[0];

    it('after `started`: neither the deadline sweeper nor a dead letter makes it undelivered, and a cancel does not call it unstarted', async () => {
      await store.applyUpdates([started], 2_000);
      expect((await store.applyUpdates([undelivered(true)], 8_000)).applied).toBe(0);
      const cancel = await store.requestCancel('t1', null, 'cancelled by alice before it started', 8_000);
      expect(cancel.pending).toEqual([]);
      expect(cancel.running.map((r) => r.id)).toEqual(['i1']);
      expect(await state()).toMatchObject({ state: 'running', reason: null });
    });

    it('a sweeper verdict decided on a stale read (a `started` committed in between) changes nothing', async () => {
      // The sweeper read i1 pending and overdue at 8_000; the agent's `started` was committed before its verdict.
      await store.applyUpdates([started], 7_900);
      const stale: InvocationUpdate = {
        kind: 'verdict',
        invocationId: 'i1',
        state: 'undelivered',
        reason: 'no agent took it',
        at: 8_000,
        overdueFrom: 'pending',
      };
      expect((await store.applyUpdates([stale], 8_000)).applied).toBe(0);
      expect(await state()).toMatchObject({ state: 'running', reason: null });
      // Nor a `lost` verdict read while it ran, once its result came: and past the new deadline, it applies.
      const lost: InvocationUpdate = {
        kind: 'verdict',
        invocationId: 'i1',
        state: 'lost',
        reason: 'no result',
        at: 8_000,
        overdueFrom: 'running',
      };
      expect((await store.applyUpdates([lost], 8_000)).applied).toBe(0); // its deadline moved past 8_000
      expect((await store.applyUpdates([{ ...lost, at: 60_000 }], 60_000)).applied).toBe(1);
      expect(await state()).toMatchObject({ state: 'lost' });
    });

    it('a late `started` replaces undelivered (sweeper) and a cancel made before it (reason cleared, task reopened)', async () => {
      await store.applyUpdates([undelivered(false)], 8_000);
      expect(await store.getTask('t1')).toMatchObject({ state: 'completed' });
      await store.applyUpdates([started], 8_100);
      expect(await state()).toMatchObject({ state: 'running', reason: null });
      expect(await store.getTask('t1')).toMatchObject({ state: 'running' });

      const other = await store.requestCancel('t1', null, 'x', 8_200); // running: not touched
      expect(other.pending).toEqual([]);
    });

    it('a `started` read after the cancel of a pending invocation makes it running again, and the task waits for the kill', async () => {
      const cancel = await store.requestCancel('t1', null, 'cancelled by alice before it started', 2_000);
      expect(cancel.completed).toBe(true);
      expect(await state()).toMatchObject({ state: 'cancelled', reason: 'cancelled by alice before it started' });
      await store.applyUpdates([started], 2_100);
      expect(await state()).toMatchObject({ state: 'running', reason: null, startedAt: 1_500 });
      expect(await store.getTask('t1')).toMatchObject({ state: 'running', finishedAt: null });
      // The agent kills it on the cancel it got; the task ends cancelled.
      await store.applyUpdates(
        [
          {
            kind: 'result',
            invocationId: 'i1',
            host: 'h1',
            state: 'cancelled',
            exitCode: null,
            signal: 'SIGTERM',
            stdout: { data: '', bytes: 0, truncated: false },
            stderr: { data: '', bytes: 0, truncated: false },
            startedAt: 1_500,
            finishedAt: 2_500,
            durationMs: 1_000,
            reason: 'cancelled by alice',
          },
        ],
        2_600,
      );
      expect(await store.getTask('t1')).toMatchObject({ state: 'cancelled' });
      // A redelivered `started` changes nothing now (the agent's own cancel set started_at).
      expect((await store.applyUpdates([started], 2_700)).applied).toBe(0);
    });

    it.each([
      ['pending', [] as InvocationUpdate[]],
      ['running', [started]],
      ['undelivered (sweeper)', [undelivered(false)]],
      ['undelivered (dead letter)', [undelivered(true)]],
      ['lost (sweeper)', [started, { ...undelivered(false), state: 'lost' } as InvocationUpdate]],
    ])('an agent restart report turns %s into lost, with the agent reason', async (_, before) => {
      for (const u of before) await store.applyUpdates([u], 8_000);
      expect((await store.applyUpdates([interrupted], 9_100)).applied).toBe(1);
      expect(await state()).toMatchObject({
        state: 'lost',
        reason: 'the agent stopped while it ran',
        finishedAt: 9_000,
      });
      expect(await store.getTask('t1')).toMatchObject({ state: 'completed' });
    });

    it('an agent restart report replaces a cancel the controller made before any `started`', async () => {
      await store.requestCancel('t1', null, 'cancelled by alice before it started', 2_000);
      await store.applyUpdates([interrupted], 9_100);
      expect(await state()).toMatchObject({ state: 'lost', reason: 'the agent stopped while it ran' });
      expect(await store.getTask('t1')).toMatchObject({ state: 'cancelled' });
    });

    it('a restart report changes no outcome the agent reported, nor another host’s invocation', async () => {
      expect((await store.applyUpdates([{ ...interrupted, host: 'h2' }], 9_100)).applied).toBe(0);
      await store.applyUpdates([started], 2_000);
      await store.applyUpdates(
        [
          {
            kind: 'result',
            invocationId: 'i1',
            host: 'h1',
            state: 'succeeded',
            exitCode: 0,
            signal: null,
            stdout: { data: 'ran\n', bytes: 4, truncated: false },
            stderr: { data: '', bytes: 0, truncated: false },
            startedAt: 1_500,
            finishedAt: 2_500,
            durationMs: 1_000,
            reason: null,
          },
        ],
        2_600,
      );
      expect((await store.applyUpdates([interrupted], 9_100)).applied).toBe(0);
      expect(await state()).toMatchObject({ state: 'succeeded', exitCode: 0 });
    });
  });
}
