import { afterAll, beforeAll } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../../test/support/postgres';
import { describeFileStoreContract } from '../file-store.contract';
import { MIGRATIONS } from '../migrations';
import { openPostgres } from './pg.database';
import { PgFileStore } from './pg-file.store';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase('pg_file_contract');
  const pool = openPostgres(db.url, { max: 1 });
  try {
    for (const m of MIGRATIONS.postgres) await pool.query(m.sql);
  } finally {
    await pool.end();
  }
});
afterAll(async () => {
  await db?.drop();
});

describeFileStoreContract('PgFileStore', async () => {
  const pool = openPostgres(db.url, { max: 4 });
  await pool.query('TRUNCATE files, file_chunks, file_uploads, fetched_chunks');
  return { store: new PgFileStore(pool), dispose: () => pool.end() };
});
