import { describe, expect, it } from 'vitest';
import { type OpenStore, task, useStore } from './task-store.contract.fixtures';
import type { TaskListFilter } from './task-list.filter';
import type { TaskStore } from './task-store.port';

/**
 * Six tasks, one a second from 10 s, each on host `a` (and `b` for the first two), so that each
 * filter picks a different set; `e` and `f` share a millisecond, to page between them by id.
 */
async function seed(store: TaskStore): Promise<void> {
  const rows: [string, number, string, string, 'running' | 'completed' | 'cancelled'][] = [
    ['a', 10_000, 'Deploy web', 'alice', 'completed'],
    ['b', 11_000, 'df -h /', 'bob', 'completed'],
    ['c', 12_000, 'uptime; DEPLOY=1 make', 'alice', 'cancelled'],
    ['d', 13_000, '50%_done', 'carol', 'running'],
    ['e', 14_000, 'echo deploy', 'bob', 'running'],
    ['f', 14_000, 'echo x', 'alice', 'completed'],
  ];
  for (const [id, at, command, createdBy, state] of rows) {
    const hosts = id < 'c' ? ['a', 'b'] : ['a'];
    await store.createTask(
      task(id, at, { command, createdBy, state, hostCount: hosts.length }),
      hosts.map((host) => ({ id: `${id}-${host}`, host, deadlineAt: 99_000 })),
    );
  }
}

/** `GET /v1/tasks`' filters and paging, on every adapter (SQLite and PostgreSQL list alike). */
export function describeListFilters(open: OpenStore): void {
  describe('listing filtered and paged', () => {
    const ctx = useStore(open, seed);
    const ids = async (filter: TaskListFilter, limit = 10) =>
      (await ctx.store.listTasks(limit, filter)).map((t) => t.task.id);

    it('filters by state, creator, and command text ignoring case, with no wildcard in the text', async () => {
      expect(await ids({ state: 'running' })).toEqual(['e', 'd']);
      expect(await ids({ createdBy: 'alice' })).toEqual(['f', 'c', 'a']);
      expect(await ids({ q: 'deploy' })).toEqual(['e', 'c', 'a']);
      expect(await ids({ q: '%' })).toEqual(['d']);
      expect(await ids({ q: '_' })).toEqual(['d']);
      expect(await ids({ q: 'deploy', createdBy: 'alice', state: 'completed' })).toEqual(['a']);
    });

    it('filters by creation time: since inclusive, until exclusive', async () => {
      expect(await ids({ since: 12_000 })).toEqual(['f', 'e', 'd', 'c']);
      expect(await ids({ until: 12_000 })).toEqual(['b', 'a']);
      expect(await ids({ since: 11_000, until: 13_000 })).toEqual(['c', 'b']);
    });

    it('pages with before: each task once, across tasks of the same millisecond; an unknown id lists none', async () => {
      expect(await ids({}, 2)).toEqual(['f', 'e']);
      expect(await ids({ before: 'e' }, 2)).toEqual(['d', 'c']);
      expect(await ids({ before: 'f' }, 1)).toEqual(['e']);
      expect(await ids({ before: 'c' }, 2)).toEqual(['b', 'a']);
      expect(await ids({ before: 'a' })).toEqual([]);
      expect(await ids({ before: 'nosuch' })).toEqual([]);
      expect(await ids({ before: 'f', createdBy: 'alice' })).toEqual(['c', 'a']);
    });

    it('applies the same filters to a host-limited listing', async () => {
      const onlyA = (h: string) => h === 'a';
      const within = async (filter: TaskListFilter) =>
        (await ctx.store.listTasksWithin(10, onlyA, filter)).map((t) => t.task.id);
      expect(await within({})).toEqual(['f', 'e', 'd', 'c']);
      expect(await within({ q: 'DEPLOY' })).toEqual(['e', 'c']);
      expect(await within({ before: 'd', state: 'cancelled' })).toEqual(['c']);
    });
  });
}
