import { ManualClock } from '@warren/runtime';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../../test/support/postgres';
import { MigrationFailedError, SchemaTooNewError } from '../../errors/errors';
import { openPostgres, type PgPool } from '../postgres/pg.database';
import { MIGRATIONS, type Migration } from './index';
import { MIGRATION_LOCK_KEY, migratePostgres } from './pg-migrator';

const TABLES = [
  'api_tokens',
  'audit_log',
  'fetched_chunks',
  'file_chunks',
  'file_uploads',
  'files',
  'host_key_pre_accepts',
  'host_key_rejections',
  'host_keys',
  'hosts',
  'invocations',
  'schema_migrations',
  'tasks',
];
const clock = new ManualClock(1_700_000_000_000);
/** A second migration; its `pg_sleep` holds the run long enough for a concurrent one to race it. */
const v2: Migration = {
  version: MIGRATIONS.postgres.length + 1,
  name: 'notes',
  sql: `SELECT pg_sleep(0.3); CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);`,
};
const TWO = [...MIGRATIONS.postgres, v2];

const databases: TestDatabase[] = [];
const pools: PgPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(databases.map((d) => d.drop()));
});
/** A pool on a new empty database (each test its own), or on `db` when given. */
async function poolOn(db?: TestDatabase): Promise<{ db: TestDatabase; pool: PgPool }> {
  if (!db) databases.push((db = await freshDatabase('migrate')));
  const pool = openPostgres(db.url, { max: 2 });
  pools.push(pool);
  return { db, pool };
}
const tables = async (pool: PgPool) =>
  (
    await pool.query<{ t: string }>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    )
  ).rows.map((r) => r.t);
const recorded = async (pool: PgPool) =>
  (await pool.query(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)).rows;
/** Advisory locks held in this test's database only: `pg_locks` is server-wide, and other spec files migrate their own databases at the same time. */
const advisoryLocks = async (pool: PgPool) =>
  (
    await pool.query(
      `SELECT objid FROM pg_locks
        WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    )
  ).rows.length;
/** `p`, or a rejection when it has not settled within `s` seconds (its timer cleared either way). */
async function withinSeconds<T>(s: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`not settled in ${s} s`)), s * 1000)),
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('PostgreSQL migrations (real server)', () => {
  it('brings an empty database to the newest version: every table, one schema_migrations row each, the lock released', async () => {
    const { pool } = await poolOn();
    const report = await migratePostgres(pool, { clock });
    expect(report).toMatchObject({ dialect: 'postgres', from: 0, to: 3, legacy: false, dryRun: false });
    expect(report.applied.map((m) => m.version)).toEqual([1, 2, 3]);
    expect(await tables(pool)).toEqual(TABLES);
    expect(await recorded(pool)).toEqual([
      { version: 1, name: 'initial', applied_at: 1_700_000_000_000 },
      { version: 2, name: 'files', applied_at: 1_700_000_000_000 },
      { version: 3, name: 'active_by_task', applied_at: 1_700_000_000_000 },
    ]);
    expect(await advisoryLocks(pool)).toBe(0);
    expect((await migratePostgres(pool)).applied).toEqual([]);
  });

  it('applies only the migrations a database at the previous version lacks', async () => {
    const { pool } = await poolOn();
    await migratePostgres(pool);
    const report = await migratePostgres(pool, { migrations: TWO, clock });
    expect(report).toMatchObject({ from: 3, to: 4 });
    expect(report.applied.map((m) => m.name)).toEqual(['notes']);
    expect((await recorded(pool)).map((r) => r.version)).toEqual([1, 2, 3, 4]);
    expect(await tables(pool)).toContain('notes');
  });

  it('refuses a database newer than the code with the one line, writing nothing', async () => {
    const { pool } = await poolOn();
    await migratePostgres(pool, { migrations: TWO });
    const before = await recorded(pool);
    const err = await migratePostgres(pool).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toBe(
      'database schema is at version 4, newer than this warren-controller knows (3): upgrade warren-controller, or point --db elsewhere',
    );
    await expect(migratePostgres(pool, { dryRun: true })).rejects.toThrow(SchemaTooNewError);
    expect(await recorded(pool)).toEqual(before);
    expect(await advisoryLocks(pool)).toBe(0);
  });

  it('two runners started at once on one database both succeed, and each version is applied once', async () => {
    const { db, pool } = await poolOn();
    const other = (await poolOn(db)).pool;
    const [a, b] = await Promise.all([
      migratePostgres(pool, { migrations: TWO }),
      migratePostgres(other, { migrations: TWO }),
    ]);
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, 4]);
    expect([a.to, b.to]).toEqual([4, 4]);
    expect((await recorded(pool)).map((r) => r.version)).toEqual([1, 2, 3, 4]);
  });

  it('with dryRun reports what it would apply and changes nothing', async () => {
    const { pool } = await poolOn();
    const report = await migratePostgres(pool, { dryRun: true });
    expect(report).toMatchObject({ from: 0, to: 0, dryRun: true });
    expect(report.applied.map((m) => m.name)).toEqual(['initial', 'files', 'active_by_task']);
    expect(await tables(pool)).toEqual([]);
    await migratePostgres(pool);
    const next = await migratePostgres(pool, { migrations: TWO, dryRun: true });
    expect(next).toMatchObject({ from: 3, to: 3 });
    expect(next.applied.map((m) => m.name)).toEqual(['notes']);
    expect(await tables(pool)).not.toContain('notes');
  });

  it('rolls a failing migration back whole and releases the lock: still at the version before', async () => {
    const { pool } = await poolOn();
    await migratePostgres(pool);
    const broken: Migration = {
      version: 4,
      name: 'broken',
      sql: `CREATE TABLE half (x INT); INSERT INTO nowhere VALUES (1);`,
    };
    const err = await migratePostgres(pool, { migrations: [...MIGRATIONS.postgres, broken] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect((err as Error).message).toBe(
      'migration 0004_broken failed, nothing of it applied: relation "nowhere" does not exist',
    );
    expect((await recorded(pool)).map((r) => r.version)).toEqual([1, 2, 3]);
    expect(await tables(pool)).not.toContain('half');
    expect(await advisoryLocks(pool)).toBe(0);
    expect((await migratePostgres(pool)).applied).toEqual([]);
  });

  it('commits a migration only with its schema_migrations row: when recording it fails, nothing of it stays', async () => {
    const { pool } = await poolOn();
    await migratePostgres(pool);
    const sneaky: Migration = {
      version: 4,
      name: 'sneaky',
      sql: `CREATE TABLE half (x INT); INSERT INTO schema_migrations VALUES (3, 'other', 0);`,
    };
    const err = await migratePostgres(pool, { migrations: [...MIGRATIONS.postgres, sneaky] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect((err as Error).message).toMatch(/^migration 0004_sneaky failed, nothing of it applied: duplicate key/);
    expect(await tables(pool)).not.toContain('half');
    expect((await recorded(pool)).map((r) => r.version)).toEqual([1, 2, 3]);
  });

  it('starts as a user with only data rights when nothing is pending: no DDL, no lock, and the newer-schema refusal', async () => {
    const { db, pool } = await poolOn();
    await migratePostgres(pool);
    const role = `warren_test_app_${randomBytes(4).toString('hex')}`;
    await pool.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`); // PostgreSQL < 15 grants it
    await pool.query(`CREATE ROLE ${role} LOGIN`);
    try {
      await pool.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      await pool.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const u = new URL(db.url);
      u.username = role;
      const app = openPostgres(u.toString(), { max: 1 });
      const session = await pool.connect();
      try {
        expect(await migratePostgres(app)).toMatchObject({ from: 3, to: 3, applied: [], dryRun: false });
        // The lock held elsewhere: a run that took it would wait, so it must settle at once.
        await session.query(`SELECT pg_advisory_lock($1::bigint)`, [MIGRATION_LOCK_KEY]);
        expect(await withinSeconds(3, migratePostgres(app))).toMatchObject({ applied: [] });
        await expect(withinSeconds(3, migratePostgres(app, { migrations: [] }))).rejects.toBeInstanceOf(
          SchemaTooNewError,
        );
        // Something pending: the run needs DDL rights, and fails saying so, having written nothing.
        await session.query(`SELECT pg_advisory_unlock($1::bigint)`, [MIGRATION_LOCK_KEY]);
        await expect(migratePostgres(app, { migrations: TWO })).rejects.toThrow(/permission denied/);
        expect(await tables(pool)).not.toContain('notes');
      } finally {
        session.release();
        await app.end();
      }
    } finally {
      await pool.query(`DROP OWNED BY ${role}`);
      await pool.query(`DROP ROLE ${role}`);
    }
  });

  it('waits while another session holds the migration lock, then migrates', async () => {
    const { db, pool } = await poolOn();
    const holder = (await poolOn(db)).pool;
    const session = await holder.connect();
    await session.query(`SELECT pg_advisory_lock($1::bigint)`, [MIGRATION_LOCK_KEY]);
    let settled = false;
    const run = migratePostgres(pool).then((r) => ((settled = true), r));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    await migratePostgres(holder, { dryRun: true }); // a dry run takes no lock
    await session.query(`SELECT pg_advisory_unlock($1::bigint)`, [MIGRATION_LOCK_KEY]);
    session.release();
    expect((await run).applied.map((m) => m.version)).toEqual([1, 2, 3]);
  });
});
