import type { Db } from '../store/database';
import type { PresenceRecord, PresenceStore } from './presence-store.port';
import { newestPerHost, type PresenceRow, toPresence } from './presence.rows';

/**
 * Presence in the controller's SQLite file (table `hosts` of migration 0001): each batch in one
 * transaction, a host's row replaced only by a newer heartbeat (`sent_at`).
 */
export class SqlitePresenceStore implements PresenceStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      upsert: db.prepare(
        `INSERT INTO hosts (host, key_id, status, labels, version, running, concurrency, interval_ms, sent_at, received_at)
         VALUES (@host, @keyId, @status, @labels, @version, @running, @concurrency, @intervalMs, @sentAt, @receivedAt)
         ON CONFLICT (host) DO UPDATE SET key_id = excluded.key_id, status = excluded.status, labels = excluded.labels,
           version = excluded.version, running = excluded.running, concurrency = excluded.concurrency,
           interval_ms = excluded.interval_ms, sent_at = excluded.sent_at, received_at = excluded.received_at
         WHERE excluded.sent_at > hosts.sent_at`,
      ),
      list: db.prepare(`SELECT * FROM hosts ORDER BY host`),
      forget: db.prepare(`DELETE FROM hosts WHERE host = ?`),
    };
  }

  async record(records: readonly PresenceRecord[]): Promise<void> {
    const rows = newestPerHost(records).map((r) => ({ ...r, labels: JSON.stringify(r.labels) }));
    this.db.transaction(() => {
      for (const r of rows) this.stmts.upsert.run(r);
    })();
  }

  async list(): Promise<PresenceRecord[]> {
    return (this.stmts.list.all() as PresenceRow[]).map(toPresence);
  }

  async forget(hosts: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const h of hosts) this.stmts.forget.run(h);
    })();
  }
}
