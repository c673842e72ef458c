import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../test/support/postgres';
import { MIGRATIONS } from '../store/migrations';
import { openPostgres, type PgPool } from '../store/postgres/pg.database';
import { PgPresenceStore } from './pg-presence.store';
import { presence, presenceStoreContract } from './presence-store.contract';

describe('PgPresenceStore', () => {
  let database: TestDatabase;
  let pool: PgPool;
  beforeAll(async () => {
    database = await freshDatabase('presence');
    pool = openPostgres(database.url);
    for (const m of MIGRATIONS.postgres) await pool.query(m.sql);
  });
  afterAll(async () => {
    await pool?.end();
    await database?.drop();
  });

  presenceStoreContract(async () => {
    await pool.query('DELETE FROM hosts');
    return new PgPresenceStore(pool);
  });

  it('records 4,000 hosts in one statement, every row exact, an older heartbeat in the batch changing nothing', async () => {
    await pool.query('DELETE FROM hosts');
    const store = new PgPresenceStore(pool);
    const at = 1_790_000_000_000;
    // Every tenth host already has a newer heartbeat stored: the batch must leave it.
    await store.record(Array.from({ length: 400 }, (_, i) => presence(`h${i * 10}`, at + 10, { running: 7 })));
    const batch = Array.from({ length: 4_000 }, (_, i) =>
      presence(`h${i}`, at + (i % 5), {
        running: i % 9,
        labels: { role: `r${i % 3}`, note: 'a,"b"\\{c} é' },
        status: i % 2 ? 'online' : 'goodbye',
      }),
    );
    const query = vi.spyOn(pool, 'query');
    const connect = vi.spyOn(pool, 'connect');
    try {
      await store.record([...batch].reverse());
      // One statement with its parameters (pool.query takes a client for it): one round trip.
      expect([query.mock.calls.length, connect.mock.calls.length]).toEqual([1, 1]);
    } finally {
      query.mockRestore();
      connect.mockRestore();
    }
    const rows = new Map((await store.list()).map((r) => [r.host, r]));
    expect(rows.size).toBe(4_000);
    for (const [i, want] of batch.entries())
      expect(rows.get(want.host)).toEqual(i % 10 === 0 ? presence(`h${i}`, at + 10, { running: 7 }) : want);
  });

  it('lets two controllers record overlapping batches at once, in any order, without a deadlock', async () => {
    await pool.query('DELETE FROM hosts');
    const other = openPostgres(database.url);
    try {
      const a = new PgPresenceStore(pool);
      const b = new PgPresenceStore(other);
      for (let round = 1; round <= 10; round++) {
        const batch = Array.from({ length: 2_000 }, (_, i) => presence(`host-${i}`, round, { running: round }));
        await Promise.all([a.record(batch), b.record([...batch].reverse()), a.record(batch.slice(500))]);
      }
      const rows = await a.list();
      expect(rows).toHaveLength(2_000);
      expect(rows.every((r) => r.sentAt === 10 && r.running === 10)).toBe(true);
    } finally {
      await other.end();
    }
  }, 60_000);
});
