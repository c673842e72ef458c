import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../../test/support/postgres';
import { inTransaction, isDatabaseUnavailable, openPostgres, type PgPool } from './pg.database';

describe('PostgreSQL pool (real server)', () => {
  let db: TestDatabase;
  let pool: PgPool;
  beforeAll(async () => {
    db = await freshDatabase('pool');
    pool = openPostgres(db.url, { max: 4 });
    await pool.query('CREATE TABLE t (id INT PRIMARY KEY, at BIGINT NOT NULL)');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('reads bigint columns as numbers, not strings', async () => {
    await pool.query('INSERT INTO t VALUES (1, $1)', [1_764_555_000_123]);
    const { rows } = await pool.query<{ at: number }>('SELECT at FROM t WHERE id = 1');
    expect(rows[0].at).toBe(1_764_555_000_123);
  });

  it('rolls back the whole transaction when its body throws', async () => {
    await expect(
      inTransaction(pool, async (c) => {
        await c.query('INSERT INTO t VALUES (2, 0)');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const { rows } = await pool.query('SELECT 1 FROM t WHERE id = 2');
    expect(rows).toEqual([]);
  });

  it('runs a serializable body again after a serialization failure, and commits once', async () => {
    await pool.query('INSERT INTO t VALUES (3, 0)');
    let runs = 0;
    // Two serializable increments that read then write the same row: one must fail with 40001 and be
    // retried. Neither writes before both have read (a barrier, not a sleep: on a loaded machine the
    // first could commit before the second began, and nothing would conflict).
    let read = 0;
    let bothRead: () => void = () => undefined;
    const barrier = new Promise<void>((r) => (bothRead = r));
    const bump = () =>
      inTransaction(
        pool,
        async (c) => {
          runs++;
          const { rows } = await c.query<{ at: number }>('SELECT at FROM t WHERE id = 3');
          if (++read === 2) bothRead();
          await barrier;
          await c.query('UPDATE t SET at = $1 WHERE id = 3', [rows[0].at + 1]);
        },
        { isolation: 'serializable' },
      );
    await Promise.all([bump(), bump()]);
    const { rows } = await pool.query<{ at: number }>('SELECT at FROM t WHERE id = 3');
    expect(rows[0].at).toBe(2);
    expect(runs).toBeGreaterThan(2);
  });

  it('survives its connection dropped while a transaction body awaits: rejects as unavailable, no unhandled error, the pool goes on', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const err = await inTransaction(pool, async (c) => {
        const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // As a server restart does: the backend ends (57P01) while the body does something else.
        await pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
        await new Promise((r) => setTimeout(r, 200));
        await c.query('SELECT 1');
      }).catch((e: unknown) => e);
      expect(isDatabaseUnavailable(err), String(err)).toBe(true);
      expect(uncaught).toEqual([]);
      const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one');
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });

  it('gives up on a statement unanswered past its query timeout, and calls that "unavailable" (a silent cut)', async () => {
    const slow = openPostgres(db.url, { max: 1, queryTimeoutMs: 200 });
    try {
      const err = await slow.query('SELECT pg_sleep(2)').catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/Query read timeout/);
      expect(isDatabaseUnavailable(err)).toBe(true);
    } finally {
      await slow.end().catch(() => undefined);
    }
  });

  it('calls a refused connection "unavailable", and a bad statement not', async () => {
    const away = openPostgres('postgres://postgres@127.0.0.1:1/none');
    const err = await away.query('SELECT 1').catch((e: unknown) => e);
    await away.end();
    expect(isDatabaseUnavailable(err)).toBe(true);
    const bad = await pool.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(isDatabaseUnavailable(bad)).toBe(false);
  });
});
