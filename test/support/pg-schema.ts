import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { MIGRATIONS } from '../../apps/controller/src/store/migrations';
import { openPostgres, type PgPool } from '../../apps/controller/src/store/postgres/pg.database';
import { PG_ADMIN_URL, type TestDatabase, withDatabase } from './postgres';

/**
 * A fresh database (see {@link freshDatabase}) at the current schema, and pools on it: what a
 * PostgreSQL adapter spec needs. Call `close()` in `afterAll`: it ends every pool, then drops the database.
 */
export interface MigratedDatabase {
  db: TestDatabase;
  /** the first pool, opened with the database */
  pool: PgPool;
  /** Opens another pool on the database: another controller. Ended by `close()` unless ended before. */
  openPool(): PgPool;
  /** Empties `tables` (and what references them), so that each contract test starts from nothing. */
  truncate(...tables: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates a database for one test file and applies every PostgreSQL migration to it (plain SQL, in
 * order). The database sorts text by ICU's `en-US` rules, as a server initialised in an English
 * locale does (PostgreSQL 15+ built with ICU), not bytewise as the test server's default `C.UTF-8`:
 * an adapter that relies on the server's collation to sort as SQLite does fails here.
 */
export async function migratedDatabase(label: string): Promise<MigratedDatabase> {
  const db = await englishDatabase(label);
  const pools: PgPool[] = [];
  const openPool = () => {
    const p = openPostgres(db.url, { max: 4, applicationName: `warren-test-${label}` });
    pools.push(p);
    return p;
  };
  const pool = openPool();
  try {
    for (const m of MIGRATIONS.postgres) await pool.query(m.sql);
  } catch (err) {
    await pool.end();
    await db.drop();
    throw err;
  }
  return {
    db,
    pool,
    openPool,
    async truncate(...tables) {
      await pool.query(`TRUNCATE ${tables.join(', ')} CASCADE`);
    },
    async close() {
      await Promise.all(pools.splice(0).map((p) => (p.ending ? undefined : p.end())));
      await db.drop();
    },
  };
}

/** {@link freshDatabase}, with ICU `en-US` collation. */
async function englishDatabase(label: string): Promise<TestDatabase> {
  const name = `warren_test_${label
    .replace(/[^a-z0-9]+/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await admin(
    `CREATE DATABASE ${name} TEMPLATE template0 ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
  );
  let dropped = false;
  return {
    url: withDatabase(PG_ADMIN_URL, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * A pool on a port where no PostgreSQL listens (127.0.0.1:1): every query rejects at once with
 * ECONNREFUSED, as while the database is down. End it after use.
 */
export function unreachablePool(): PgPool {
  return openPostgres('postgres://postgres@127.0.0.1:1/warren_nowhere', { max: 1 });
}
