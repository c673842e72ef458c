import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * The shared PostgreSQL server's maintenance database (trust auth, user `postgres`), from which
 * tests create databases of their own. `WARREN_TEST_PG` overrides it.
 */
export const PG_ADMIN_URL = process.env.WARREN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database made for one test file: its URL, and `drop()` for `afterAll`. */
export interface TestDatabase {
  /** `postgres://…/<name>`, for `--db` or a pool */
  url: string;
  name: string;
  /** Drops the database, closing whatever connections are still open to it (`WITH (FORCE)`, PostgreSQL 13+). Idempotent. */
  drop(): Promise<void>;
}

/** `url` with its database replaced by `name`. */
export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Creates an empty database on the shared server, named `warren_test_<label>_<random>`, for one
 * test file: create it in `beforeAll`, drop it in `afterAll`. Never touches another database.
 */
export async function freshDatabase(label: string, adminUrl = PG_ADMIN_URL): Promise<TestDatabase> {
  const name = `warren_test_${label
    .replace(/[^a-z0-9]+/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  await admin(adminUrl, `CREATE DATABASE ${name}`);
  let dropped = false;
  return {
    url: withDatabase(adminUrl, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function admin(url: string, sql: string): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}
