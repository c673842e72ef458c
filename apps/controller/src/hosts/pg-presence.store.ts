import { inTransaction, type PgPool } from '../store/postgres/pg.database';
import type { PresenceRecord, PresenceStore } from './presence-store.port';
import { PRESENCE_COLUMNS, type PresenceRow, presenceOf, presenceParams, UPSERT_PRESENCE } from './presence.rows';

/**
 * The {@link PresenceStore} in PostgreSQL (table `hosts` of schema v1), on the controller's pool.
 * Several controllers record the same heartbeats: the upsert keeps the newest by `sent_at`, and
 * a batch's rows are written in host order so that two batches never wait on each other in a
 * cycle (no deadlock between controllers).
 */
export class PgPresenceStore implements PresenceStore {
  constructor(private readonly pool: PgPool) {}

  async record(records: readonly PresenceRecord[]): Promise<void> {
    if (records.length === 0) return;
    const newest = new Map<string, PresenceRecord>();
    for (const r of records) if ((newest.get(r.host)?.sentAt ?? -1) < r.sentAt) newest.set(r.host, r);
    const sorted = [...newest.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
    await inTransaction(this.pool, async (c) => {
      for (const r of sorted) await c.query(UPSERT_PRESENCE, presenceParams(r));
    });
  }

  async list(): Promise<PresenceRecord[]> {
    const { rows } = await this.pool.query<PresenceRow>(`SELECT ${PRESENCE_COLUMNS} FROM hosts ORDER BY host`);
    return rows.map(presenceOf);
  }

  async forget(hosts: readonly string[]): Promise<void> {
    if (hosts.length === 0) return;
    await this.pool.query('DELETE FROM hosts WHERE host = ANY($1::text[])', [[...hosts]]);
  }
}
