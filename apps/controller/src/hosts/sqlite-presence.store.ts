import type { Db } from '../store/database';
import type { PresenceRecord, PresenceStore } from './presence-store.port';
import { PRESENCE_COLUMNS, type PresenceRow, presenceOf, presenceParams, UPSERT_PRESENCE } from './presence.rows';

/**
 * The {@link PresenceStore} in the controller's SQLite file (table `hosts` of schema v1). Calls
 * are synchronous underneath (better-sqlite3); a busy or failing file rejects the promise.
 */
export class SqlitePresenceStore implements PresenceStore {
  constructor(private readonly db: Db) {}

  async record(records: readonly PresenceRecord[]): Promise<void> {
    if (records.length === 0) return;
    const upsert = this.db.prepare(UPSERT_PRESENCE.replace(/\$\d+/g, '?')); // $1…$10 are in order
    this.db
      .transaction(() => {
        for (const r of records) upsert.run(...presenceParams(r));
      })
      .immediate();
  }

  async list(): Promise<PresenceRecord[]> {
    const rows = this.db.prepare(`SELECT ${PRESENCE_COLUMNS} FROM hosts ORDER BY host`).all() as PresenceRow[];
    return rows.map(presenceOf);
  }

  async forget(hosts: readonly string[]): Promise<void> {
    if (hosts.length === 0) return;
    const del = this.db.prepare('DELETE FROM hosts WHERE host = ?');
    this.db
      .transaction(() => {
        for (const h of hosts) del.run(h);
      })
      .immediate();
  }
}
