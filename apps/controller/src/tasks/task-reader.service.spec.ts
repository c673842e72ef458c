import { describe, expect, it } from 'vitest';
import type { AuditLog } from '../audit/audit.port';
import { HostScope } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import type { TaskRecord, TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';
import { TaskReader } from './task-reader.service';

const admin: Caller = {
  principal: { tokenId: 'id', name: 'root', role: 'admin', hostPatterns: null, scope: new HostScope(null) },
  source: null,
};

const task = (state: TaskRecord['state']): TaskRecord =>
  ({
    id: 't1',
    command: 'x',
    cwd: null,
    env: {},
    state,
    createdAt: 0,
    finishedAt: state === 'running' ? null : 1,
  }) as TaskRecord;

describe('TaskReader', () => {
  it('a held GET answers at once when the task completes while it is read (no completion is missed)', async () => {
    const notifier = new CompletionNotifier();
    let reads = 0;
    // The first read sees the task running; the completion is committed and announced while the
    // second read (the one before the wait) is under way, as with a database server.
    const store = {
      getTask: async () => {
        reads++;
        if (reads === 2) notifier.notify(['t1']);
        return task(reads === 1 ? 'running' : 'completed');
      },
      getInvocations: async () => [],
    } as unknown as TaskStore;
    const reader = new TaskReader(store, notifier, {} as AuditLog);
    const started = Date.now();
    const view = await reader.get('t1', admin, 60_000);
    expect(view.state).toBe('completed');
    expect(Date.now() - started).toBeLessThan(1_000);
  }, 5_000);
});
