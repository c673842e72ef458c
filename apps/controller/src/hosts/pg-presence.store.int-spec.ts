import { afterAll, beforeAll, describe } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../test/support/postgres';
import { MIGRATIONS } from '../store/migrations';
import { openPostgres, type PgPool } from '../store/postgres/pg.database';
import { PgPresenceStore } from './pg-presence.store';
import { presenceStoreContract } from './presence-store.contract';

describe('PgPresenceStore', () => {
  let database: TestDatabase;
  let pool: PgPool;
  beforeAll(async () => {
    database = await freshDatabase('presence');
    pool = openPostgres(database.url);
    await pool.query(MIGRATIONS.postgres[0].sql);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  presenceStoreContract(async () => {
    await pool.query('DELETE FROM hosts');
    return new PgPresenceStore(pool);
  });
});
