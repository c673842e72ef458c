import { afterAll, beforeAll } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../../test/support/postgres';
import { MIGRATIONS } from '../migrations';
import { describeTaskStoreContract } from '../task-store.contract';
import type { AppliedChange } from '../task-store.port';
import { openPostgres } from './pg.database';
import { PgTaskStore } from './pg-task.store';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('pg_task_contract');
  const pool = openPostgres(db.url, { max: 1 });
  try {
    await pool.query(MIGRATIONS.postgres[0].sql);
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
