import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../../test/support/postgres';
import { MIGRATIONS } from '../migrations';
import { describeTaskStoreContract } from '../task-store.contract';
import { result, task } from '../task-store.contract.fixtures';
import type { AppliedChange, InvocationUpdate } from '../task-store.port';
import { isDatabaseUnavailable, openPostgres } from './pg.database';
import { PgTaskStore } from './pg-task.store';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('pg_task_contract');
  const pool = openPostgres(db.url, { max: 1 });
  try {
    for (const m of MIGRATIONS.postgres) await pool.query(m.sql);
    // A linguistic collation on the host column, as a database created with an ICU or libc locale
    // would have (this server's default, C.UTF-8, orders byte-wise anyway): results must still
    // come in SQLite's byte-wise order.
    await pool.query(`ALTER TABLE invocations ALTER COLUMN host TYPE TEXT COLLATE "und-x-icu"`);
  } finally {
    await pool.end();
  }
});
afterAll(async () => {
  await db?.drop();
});

describeTaskStoreContract('PgTaskStore', async () => {
  const admin = openPostgres(db.url, { max: 1 });
  await admin.query('TRUNCATE tasks, invocations RESTART IDENTITY');
  await admin.end();
  const heard: AppliedChange[][] = [];
  let store = new PgTaskStore(openPostgres(db.url, { max: 4 }), (c) => heard.push(c));
  return {
    store,
    heard,
    async reopen() {
      await store.close();
      store = new PgTaskStore(openPostgres(db.url, { max: 4 }));
      return store;
    },
    dispose: () => store.close(),
  };
});

describe('PgTaskStore: what PostgreSQL cannot store as SQLite does', () => {
  let store: PgTaskStore;
  beforeEach(async () => {
    store = new PgTaskStore(openPostgres(db.url, { max: 2 }));
    await store.createTask(task('n1', 1_000, { hostCount: 2 }), [
      { id: 'n1a', host: 'a', deadlineAt: 7_000 },
      { id: 'n1b', host: 'b', deadlineAt: 7_000 },
    ]);
  });
  afterEach(() => store.close());

  it('stores a batch whose reasons hold U+0000 (which TEXT cannot), replaced by U+FFFD, rather than fail it at every redelivery', async () => {
    const rejected = { ...result('n1a', 'a', 'rejected'), reason: 'bad\u0000arg', signal: 'SIG\u0000X' };
    const lost: InvocationUpdate = { kind: 'interrupted', invocationId: 'n1b', host: 'b', reason: 'gone\u0000', at: 5 };
    expect(await store.applyUpdates([rejected, lost], 4_000)).toEqual({ applied: 2, completedTaskIds: ['n1'] });
    expect((await store.getInvocations('n1')).map((r) => [r.reason, r.signal])).toEqual([
      ['bad\uFFFDarg', 'SIG\uFFFDX'],
      ['gone\uFFFD', null],
    ]);
  });
});

describe('PgTaskStore: the database away', () => {
  it('rejects with an error isDatabaseUnavailable recognises, and tells onApplied nothing', async () => {
    const heard: AppliedChange[][] = [];
    const away = new PgTaskStore(openPostgres('postgres://postgres@127.0.0.1:1/none'), (c) => heard.push(c));
    try {
      const err = await away.applyUpdates([result('n1a', 'a', 'succeeded')], 4_000).catch((e: unknown) => e);
      expect(isDatabaseUnavailable(err)).toBe(true);
      expect(isDatabaseUnavailable(await away.sweepOverdue(1, 1, { pending: 'x', running: 'y' }).catch((e) => e))).toBe(
        true,
      );
      expect(isDatabaseUnavailable(await away.getTask('n1').catch((e: unknown) => e))).toBe(true);
      expect(heard).toEqual([]);
    } finally {
      await away.close();
    }
  });
});
