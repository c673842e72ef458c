import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditLog } from '../audit/audit.port';
import { HostScope } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import type { TaskRecord, TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';
import { RECHECK_MS, TaskReader } from './task-reader.service';

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

  afterEach(() => {
    vi.useRealTimers();
  });

  it('a POST with wait answers at once when the task completes while it is read, not at the next re-read', async () => {
    vi.useFakeTimers();
    const notifier = new CompletionNotifier();
    let reads = 0;
    let release: (() => void) | null = null;
    // The first read is under way (a database round trip) when the last result is committed and
    // announced; it still sees the task running, as it read before the commit.
    const store = {
      getTask: async () => {
        reads++;
        if (reads === 1) await new Promise<void>((r) => (release = r));
        return task(reads === 1 ? 'running' : 'completed');
      },
      getInvocations: async () => [],
    } as unknown as TaskStore;
    const reader = new TaskReader(store, notifier, {} as AuditLog);
    let answered: string | null = null;
    void reader.waitForCompletion('t1', admin).then((v) => (answered = v.state));
    await vi.advanceTimersByTimeAsync(0);
    notifier.notify(['t1']);
    release!();
    await vi.advanceTimersByTimeAsync(10);
    expect(answered).toBe('completed');
    expect(reads).toBe(2);
  });

  it('a held GET reads the task again every RECHECK_MS, so a completion nobody announced is answered', async () => {
    vi.useFakeTimers();
    const notifier = new CompletionNotifier();
    let state: TaskRecord['state'] = 'running';
    let reads = 0;
    const store = {
      getTask: async () => {
        reads++;
        return task(state);
      },
      getInvocations: async () => [],
    } as unknown as TaskStore;
    const reader = new TaskReader(store, notifier, {} as AuditLog);
    let answered: string | null = null;
    void reader.get('t1', admin, 60_000).then((v) => (answered = v.state));
    await vi.advanceTimersByTimeAsync(RECHECK_MS / 2);
    state = 'completed'; // stored by another controller; its wake-up was lost
    await vi.advanceTimersByTimeAsync(RECHECK_MS / 2 - 10);
    expect(answered).toBeNull();
    await vi.advanceTimersByTimeAsync(20);
    expect(answered).toBe('completed');
    expect(reads).toBeLessThanOrEqual(4);
  });
});
