import { describe, expect, it } from 'vitest';
import { type OpenStore, result, task, useStore } from './task-store.contract.fixtures';
import type { InvocationUpdate, TaskTransfer } from './task-store.port';

const SHA = 'a'.repeat(64);

/** A task's transfer and stdin, and a result's file, as every adapter stores them (issue 16). */
export function describeTransfers(open: OpenStore): void {
  describe('file transfers', () => {
    const put: TaskTransfer = {
      op: 'put',
      file: SHA,
      name: 'motd',
      size: 12,
      dest: '/etc/motd',
      mode: 0o644,
      owner: 'root',
      group: null,
      mkdir: false,
    };
    const ctx = useStore(open, async (store) => {
      await store.createTask(task('tp', 1_000, { command: 'put /etc/motd', transfer: put }), [
        { id: 'p1', host: 'a', deadlineAt: 7_000 },
      ]);
      await store.createTask(
        task('tg', 1_001, { command: 'get /var/log/x', transfer: { op: 'get', path: '/var/log/x', maxBytes: 99 } }),
        [{ id: 'g1', host: 'a', deadlineAt: 7_000 }],
      );
      await store.createTask(task('ts', 1_002, { command: 'sha256sum', stdin: { file: SHA, size: 12 } }), [
        { id: 's1', host: 'a', deadlineAt: 7_000 },
      ]);
    });

    it('keeps a task’s transfer and stdin, and null for a plain command', async () => {
      const { store } = ctx;
      expect(await store.getTask('tp')).toMatchObject({ transfer: put, stdin: null });
      expect(await store.getTask('tg')).toMatchObject({ transfer: { op: 'get', path: '/var/log/x', maxBytes: 99 } });
      expect(await store.getTask('ts')).toMatchObject({ transfer: null, stdin: { file: SHA, size: 12 } });
      const listed = await store.listTasks(10);
      expect(listed.find((t) => t.task.id === 'tp')?.task.transfer).toEqual(put);
    });

    it('stores the file a result reports with it, and null without one', async () => {
      const { store } = ctx;
      const withFile = { ...result('p1', 'a', 'succeeded', ''), file: { sha256: SHA, size: 12, changed: false } };
      await store.applyUpdates([withFile as InvocationUpdate, result('g1', 'a', 'failed', '')], 4_000);
      expect((await store.getInvocations('tp'))[0].file).toEqual({ sha256: SHA, size: 12, changed: false });
      expect((await store.getInvocations('tg'))[0].file).toBeNull();
      expect((await store.getInvocationsByIds('tp', ['p1']))[0].file).toEqual({
        sha256: SHA,
        size: 12,
        changed: false,
      });
    });
  });
}
