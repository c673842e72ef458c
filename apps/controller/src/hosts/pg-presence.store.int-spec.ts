import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, type MigratedDatabase } from '../../../../test/support/pg-schema';
import { PgPresenceStore } from './pg-presence.store';
import { beat, describePresenceStoreContract } from './presence-store.contract';

let pg: MigratedDatabase;
beforeAll(async () => {
  pg = await migratedDatabase('presence');
});
afterAll(async () => {
  await pg?.close();
});

describePresenceStoreContract('PgPresenceStore', async () => {
  await pg.truncate('hosts');
  return new PgPresenceStore(pg.pool);
});

describe('PgPresenceStore: two controllers on one database (two pools)', () => {
  it('both recording the same heartbeats of 200 hosts at once, in opposite orders: no error, the newest of each kept', async () => {
    await pg.truncate('hosts');
    const [a, b] = [new PgPresenceStore(pg.pool), new PgPresenceStore(pg.openPool())];
    const deadlocks = async () =>
      (
        await pg.pool.query<{ n: number }>(
          `SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`,
        )
      ).rows[0].n;
    const before = await deadlocks();
    const hosts = Array.from({ length: 200 }, (_, i) => `web${i}`);
    const rounds = [1, 2, 3, 4, 5];
    await Promise.all(
      rounds.flatMap((sentAt) => {
        const batch = hosts.map((h) => beat(h, sentAt, { running: sentAt }));
        return [a.record(batch), b.record([...batch].reverse())];
      }),
    );
    const listed = await b.list();
    expect(listed).toHaveLength(200);
    expect(new Set(listed.map((r) => `${r.sentAt}/${r.running}`))).toEqual(new Set(['5/5']));
    await pg.pool.query(`SELECT pg_stat_force_next_flush()`);
    await new Promise((r) => setTimeout(r, 1_100)); // other backends flush their statistics within a second
    expect(await deadlocks()).toBe(before); // rows taken in one order by both: none
  });
});
