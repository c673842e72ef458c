import type { PgPool } from '../store/postgres/pg.database';
import type { PresenceRecord, PresenceStore } from './presence-store.port';
import { ON_NEWER_PRESENCE, PRESENCE_COLUMNS, type PresenceRow, presenceOf, presenceParams } from './presence.rows';

/**
 * One statement for a whole batch: each column comes as one array parameter (`$1`…`$10`, in the
 * order of {@link PRESENCE_COLUMNS}), `unnest` turns them back into rows, and the rows are inserted
 * in byte order of their host (`COLLATE "C"`, the same on every database whatever its default
 * collation), so two controllers writing overlapping batches take the row locks in one order and
 * never deadlock. See https://www.postgresql.org/docs/current/functions-array.html (`unnest` with
 * several arrays) and https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT.
 */
const UPSERT_PRESENCE_BATCH = `INSERT INTO hosts (${PRESENCE_COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[],
    $7::integer[], $8::integer[], $9::bigint[], $10::bigint[]) AS batch (${PRESENCE_COLUMNS})
  ORDER BY host COLLATE "C"
  ${ON_NEWER_PRESENCE}`;

/**
 * The {@link PresenceStore} in PostgreSQL (table `hosts` of schema v1), on the controller's pool.
 * Several controllers record the same heartbeats: the upsert keeps the newest by `sent_at`. A
 * batch is one statement (one round trip, one transaction: 4,000 hosts a second cost one
 * statement, not 4,000), its rows written in host order so that two batches never wait on each
 * other in a cycle (no deadlock between controllers).
 */
export class PgPresenceStore implements PresenceStore {
  constructor(private readonly pool: PgPool) {}

  async record(records: readonly PresenceRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One row per host: `ON CONFLICT DO UPDATE` may not touch a row twice in one statement.
    const newest = new Map<string, PresenceRecord>();
    for (const r of records) if ((newest.get(r.host)?.sentAt ?? -1) < r.sentAt) newest.set(r.host, r);
    const columns: (string | number)[][] = Array.from({ length: 10 }, () => []);
    for (const r of newest.values()) presenceParams(r).forEach((value, i) => columns[i].push(value));
    await this.pool.query(UPSERT_PRESENCE_BATCH, columns);
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
