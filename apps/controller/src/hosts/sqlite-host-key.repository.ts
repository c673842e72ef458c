import type { Db } from '../store/database';
import type { HostKeyRecord, HostKeyRepository, RecordSeenOptions, RecordSeenOutcome } from './host-keys.port';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS host_keys (
  host TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'retired')),
  first_seen_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  accepted_at INTEGER,
  accepted_by TEXT,
  PRIMARY KEY (host, key_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS host_keys_one_accepted ON host_keys(host) WHERE status = 'accepted';
`;

interface Row {
  host: string;
  key_id: string;
  public_key: string;
  status: 'pending' | 'accepted' | 'retired';
  first_seen_at: number;
  last_seen_at: number;
}

const toRecord = (r: Row): HostKeyRecord => ({
  host: r.host,
  keyId: r.key_id,
  publicKey: r.public_key,
  status: r.status,
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
});

/** The agents' public keys in the controller's SQLite file (table `host_keys`). */
export class SqliteHostKeyRepository implements HostKeyRepository {
  private readonly stmts;

  constructor(private readonly db: Db) {
    db.exec(SCHEMA);
    this.stmts = {
      get: db.prepare(`SELECT * FROM host_keys WHERE host = ? AND key_id = ?`),
      byHost: db.prepare(`SELECT * FROM host_keys WHERE host = ? AND status != 'retired' ORDER BY first_seen_at`),
      insert: db.prepare(
        `INSERT INTO host_keys (host, key_id, public_key, status, first_seen_at, last_seen_at, accepted_at, accepted_by)
         VALUES (@host, @keyId, @publicKey, @status, @now, @now, @acceptedAt, @acceptedBy)`,
      ),
      touch: db.prepare(`UPDATE host_keys SET last_seen_at = ? WHERE host = ? AND key_id = ?`),
      retire: db.prepare(`UPDATE host_keys SET status = 'retired' WHERE host = ? AND status = 'accepted'`),
      accept: db.prepare(
        `UPDATE host_keys SET status = 'accepted', accepted_at = @now, accepted_by = @by WHERE host = @host AND key_id = @keyId`,
      ),
      allAccepted: db.prepare(`SELECT * FROM host_keys WHERE status = 'accepted'`),
      pendingCount: db.prepare(`SELECT COUNT(*) AS n FROM host_keys WHERE status = 'pending'`),
      pendingCountOf: db.prepare(`SELECT COUNT(*) AS n FROM host_keys WHERE host = ? AND status = 'pending'`),
    };
  }

  async listAccepted(): Promise<HostKeyRecord[]> {
    return (this.stmts.allAccepted.all() as Row[]).map(toRecord);
  }

  async keysOf(host: string): Promise<HostKeyRecord[]> {
    return (this.stmts.byHost.all(host) as Row[]).map(toRecord);
  }

  async recordSeen(
    key: Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'>,
    opts: RecordSeenOptions,
  ): Promise<RecordSeenOutcome> {
    const { host, keyId, publicKey } = key;
    const now = opts.at;
    return this.db.transaction((): RecordSeenOutcome => {
      const row = this.stmts.get.get(host, keyId) as Row | undefined;
      if (row) {
        this.stmts.touch.run(now, host, keyId);
        return { known: row.status };
      }
      if (!opts.accept) {
        const ofHost = (this.stmts.pendingCountOf.get(host) as { n: number }).n;
        const all = (this.stmts.pendingCount.get() as { n: number }).n;
        if (ofHost >= opts.maxPendingPerHost || all >= opts.maxPending) return { refused: 'too-many-pending' };
      }
      const status = opts.accept ? 'accepted' : 'pending';
      const acceptedAt = opts.accept ? now : null;
      const acceptedBy = opts.accept ? 'auto-accept' : null;
      this.stmts.insert.run({ host, keyId, publicKey, status, now, acceptedAt, acceptedBy });
      return { inserted: status };
    })();
  }

  async accept(host: string, keyId: string, by: string, at: number): Promise<void> {
    this.db.transaction(() => {
      this.stmts.retire.run(host);
      this.stmts.accept.run({ host, keyId, now: at, by });
    })();
  }
}
