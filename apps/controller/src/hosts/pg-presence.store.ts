import { inTransaction, type PgPool } from '../store/postgres/pg.database';
import type { PresenceRecord, PresenceStore } from './presence-store.port';
import { newestPerHost, type PresenceRow, toPresence } from './presence.rows';

/**
 * Presence in PostgreSQL (table `hosts` of migration 0001), shared by every controller on the
 * database. A batch is one `INSERT … ON CONFLICT DO UPDATE … WHERE` statement over arrays
 * (`unnest`, which keeps their order): the newest heartbeat per host picked in memory first (one
 * statement cannot touch a row twice) and sorted by host, so that two controllers recording the same
 * heartbeats at once take the rows' locks in one order and wait for each other instead of
 * deadlocking (a deadlock would still be retried by `inTransaction`). A row is replaced only by a
 * newer `sent_at`: the second controller to record a heartbeat changes nothing.
 */
export class PgPresenceStore implements PresenceStore {
  constructor(private readonly pool: PgPool) {}

  async record(records: readonly PresenceRecord[]): Promise<void> {
    const rows = newestPerHost(records);
    if (rows.length === 0) return;
    const column = <T>(f: (r: PresenceRecord) => T) => rows.map(f);
    await inTransaction(this.pool, (c) =>
      c.query(
        `INSERT INTO hosts (host, key_id, status, labels, version, running, concurrency, interval_ms, sent_at, received_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[],
                              $8::int[], $9::bigint[], $10::bigint[])
                AS r(host, key_id, status, labels, version, running, concurrency, interval_ms, sent_at, received_at)
         ON CONFLICT (host) DO UPDATE SET key_id = EXCLUDED.key_id, status = EXCLUDED.status, labels = EXCLUDED.labels,
           version = EXCLUDED.version, running = EXCLUDED.running, concurrency = EXCLUDED.concurrency,
           interval_ms = EXCLUDED.interval_ms, sent_at = EXCLUDED.sent_at, received_at = EXCLUDED.received_at
         WHERE EXCLUDED.sent_at > hosts.sent_at`,
        [
          column((r) => r.host),
          column((r) => r.keyId),
          column((r) => r.status),
          column((r) => JSON.stringify(r.labels)),
          column((r) => r.version),
          column((r) => r.running),
          column((r) => r.concurrency),
          column((r) => r.intervalMs),
          column((r) => r.sentAt),
          column((r) => r.receivedAt),
        ],
      ),
    );
  }

  async list(): Promise<PresenceRecord[]> {
    const { rows } = await this.pool.query<PresenceRow>(`SELECT * FROM hosts ORDER BY host COLLATE "C"`);
    return rows.map(toPresence);
  }

  async forget(hosts: readonly string[]): Promise<void> {
    if (hosts.length === 0) return;
    await this.pool.query(`DELETE FROM hosts WHERE host = ANY($1::text[])`, [[...hosts]]);
  }
}
