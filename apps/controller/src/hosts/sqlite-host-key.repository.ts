import type { Db } from '../store/database';
import type {
  HostKeyRecord,
  HostKeyRepository,
  KeySighting,
  Labels,
  PreAcceptedKey,
  RecordBatchOptions,
  RecordSeenOptions,
  RecordSeenOutcome,
} from './host-keys.port';
import { type HostKeyRow, toRecord } from './host-key.rows';

/** Thrown inside a transaction to roll it back: the key to accept is gone. */
const NO_SUCH_KEY = Symbol('no such key');

/** Not retired, and not a pending key last heard before `?` (expired). */
const LIVE = `status = 'accepted' OR (status = 'pending' AND last_seen_at >= ?)`;

/**
 * The agents' public keys in the controller's SQLite file: table `host_keys` (with the labels each
 * key last announced and those accepted with it), `host_key_rejections` (keys an operator rejected)
 * and `host_key_pre_accepts` (keys an operator accepted before they were heard, one per host).
 */
export class SqliteHostKeyRepository implements HostKeyRepository {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      get: db.prepare(`SELECT * FROM host_keys WHERE host = ? AND key_id = ?`),
      byHost: db.prepare(`SELECT * FROM host_keys WHERE host = ? AND (${LIVE}) ORDER BY first_seen_at`),
      live: db.prepare(`SELECT * FROM host_keys WHERE ${LIVE} ORDER BY host, first_seen_at`),
      insert: db.prepare(
        `INSERT INTO host_keys (host, key_id, public_key, status, first_seen_at, last_seen_at, accepted_at, accepted_by,
                                last_sent_at, labels, accepted_labels)
         VALUES (@host, @keyId, @publicKey, @status, @now, @now, @acceptedAt, @acceptedBy, @sentAt, @labels, @acceptedLabels)`,
      ),
      touch: db.prepare(
        `UPDATE host_keys SET last_seen_at = @now, last_sent_at = MAX(last_sent_at, @sentAt), labels = @labels,
                accepted_labels = CASE WHEN status = 'accepted' THEN COALESCE(accepted_labels, @labels) END
         WHERE host = @host AND key_id = @keyId`,
      ),
      retire: db.prepare(`UPDATE host_keys SET status = 'retired' WHERE host = ? AND status = 'accepted'`),
      accept: db.prepare(
        `UPDATE host_keys SET status = 'accepted', accepted_at = @now, accepted_by = @by, accepted_labels = labels
         WHERE host = @host AND key_id = @keyId`,
      ),
      acceptLabels: db.prepare(
        `UPDATE host_keys SET accepted_labels = @labels WHERE host = @host AND key_id = @keyId AND status = 'accepted'`,
      ),
      allAccepted: db.prepare(`SELECT * FROM host_keys WHERE status = 'accepted'`),
      expire: db.prepare(`DELETE FROM host_keys WHERE status = 'pending' AND last_seen_at < ?`),
      pendingCount: db.prepare(`SELECT COUNT(*) AS n FROM host_keys WHERE status = 'pending'`),
      pendingCountOf: db.prepare(`SELECT COUNT(*) AS n FROM host_keys WHERE host = ? AND status = 'pending'`),
      // The least recently heard pending key (of a host, or of all): what makes room for a key heard now.
      stalestOf: db.prepare(
        `SELECT host, key_id FROM host_keys WHERE host = ? AND status = 'pending' ORDER BY last_seen_at, first_seen_at LIMIT 1`,
      ),
      stalest: db.prepare(
        `SELECT host, key_id FROM host_keys WHERE status = 'pending' ORDER BY last_seen_at, first_seen_at LIMIT 1`,
      ),
      delete: db.prepare(`DELETE FROM host_keys WHERE host = ? AND key_id = ?`),
      rejected: db.prepare(`SELECT host, key_id, public_key FROM host_key_rejections WHERE host = ? AND key_id = ?`),
      reject: db.prepare(
        `INSERT OR REPLACE INTO host_key_rejections (host, key_id, public_key, rejected_at, rejected_by)
         SELECT host, key_id, public_key, @at, @by FROM host_keys WHERE host = @host AND key_id = @keyId`,
      ),
      unreject: db.prepare(`DELETE FROM host_key_rejections WHERE host = ? AND key_id = ?`),
      acceptedOf: db.prepare(`SELECT key_id FROM host_keys WHERE host = ? AND status = 'accepted'`),
      preAccepted: db.prepare(`SELECT accepted_by FROM host_key_pre_accepts WHERE host = ? AND key_id = ?`),
      preAccept: db.prepare(
        `INSERT OR REPLACE INTO host_key_pre_accepts (host, key_id, accepted_at, accepted_by) VALUES (?, ?, ?, ?)`,
      ),
      withdraw: db.prepare(`DELETE FROM host_key_pre_accepts WHERE host = ? AND key_id = ?`),
      withdrawOf: db.prepare(`DELETE FROM host_key_pre_accepts WHERE host = ?`),
      preAcceptedOf: db.prepare(`SELECT 1 FROM host_key_pre_accepts WHERE host = ?`),
      allPreAccepted: db.prepare(`SELECT * FROM host_key_pre_accepts ORDER BY host`),
    };
  }

  async listAccepted(): Promise<HostKeyRecord[]> {
    return (this.stmts.allAccepted.all() as HostKeyRow[]).map(toRecord);
  }

  async listKeys(pendingHeardSince: number): Promise<HostKeyRecord[]> {
    return (this.stmts.live.all(pendingHeardSince) as HostKeyRow[]).map(toRecord);
  }

  async keysOf(host: string, pendingHeardSince: number): Promise<HostKeyRecord[]> {
    return (this.stmts.byHost.all(host, pendingHeardSince) as HostKeyRow[]).map(toRecord);
  }

  async recordSeenMany(items: readonly KeySighting[], batch: RecordBatchOptions = {}): Promise<RecordSeenOutcome[]> {
    if (items.length === 0) return [];
    return this.db
      .transaction((): RecordSeenOutcome[] => {
        let acceptable = batch.maxAutoAccepted ?? Infinity;
        return items.map(({ key, opts }) => {
          const out = this.recordOne(key, { ...opts, accept: opts.accept && acceptable > 0 });
          if ('inserted' in out && out.inserted === 'accepted') acceptable--;
          return out;
        });
      })
      .immediate();
  }

  /** One sighting of {@link recordSeenMany}, inside its transaction. */
  private recordOne(
    key: Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'>,
    opts: RecordSeenOptions,
  ): RecordSeenOutcome {
    const { host, keyId, publicKey } = key;
    const now = opts.at;
    const sentAt = opts.sentAt ?? 0;
    const labels = JSON.stringify(opts.labels);
    if (this.stmts.rejected.get(host, keyId)) return { rejected: true };
    const row = this.stmts.get.get(host, keyId) as HostKeyRow | undefined;
    if (row && opts.sentAt !== undefined && opts.sentAt <= row.last_sent_at) return { stale: true };
    const pre = this.stmts.preAccepted.get(host, keyId) as { accepted_by: string } | undefined;
    if (pre && row?.status !== 'accepted') {
      // Pre-accepted: accepted at once, a pending (or retired) record of it replaced, no slot taken.
      const current = this.stmts.acceptedOf.get(host) as { key_id: string } | undefined;
      this.stmts.retire.run(host);
      this.stmts.delete.run(host, keyId);
      this.stmts.withdrawOf.run(host);
      const by = pre.accepted_by;
      this.stmts.insert.run({
        host,
        keyId,
        publicKey,
        status: 'accepted',
        now,
        acceptedAt: now,
        acceptedBy: by,
        sentAt,
        labels,
        acceptedLabels: labels,
      });
      return { preAccepted: { by, replaced: current?.key_id ?? null } };
    }
    if (row) {
      this.stmts.touch.run({ now, sentAt, labels, host, keyId });
      return { known: row.status };
    }
    // An operator pre-accepted another key for this host (auto-accept waits for that one), or
    // accepted one since the caller looked: this key waits for an operator.
    const accept = opts.accept && !this.stmts.preAcceptedOf.get(host) && !this.stmts.acceptedOf.get(host);
    const evicted = accept ? [] : this.makeRoom(host, opts);
    const status = accept ? 'accepted' : 'pending';
    this.stmts.insert.run({
      host,
      keyId,
      publicKey,
      status,
      now,
      acceptedAt: accept ? now : null,
      acceptedBy: accept ? 'auto-accept' : null,
      sentAt,
      labels,
      acceptedLabels: accept ? labels : null,
    });
    return { inserted: status, evicted };
  }

  /** Expires pending keys not heard lately, then evicts the least recently heard ones over the bounds. */
  private makeRoom(host: string, opts: RecordSeenOptions): Pick<HostKeyRecord, 'host' | 'keyId'>[] {
    this.stmts.expire.run(opts.pendingHeardSince);
    const evicted: Pick<HostKeyRecord, 'host' | 'keyId'>[] = [];
    const evict = (r: { host: string; key_id: string } | undefined) => {
      if (!r) return false;
      this.stmts.delete.run(r.host, r.key_id);
      evicted.push({ host: r.host, keyId: r.key_id });
      return true;
    };
    const count = (n: unknown) => (n as { n: number }).n;
    while (count(this.stmts.pendingCountOf.get(host)) >= opts.maxPendingPerHost)
      if (!evict(this.stmts.stalestOf.get(host) as { host: string; key_id: string } | undefined)) break;
    while (count(this.stmts.pendingCount.get()) >= opts.maxPending)
      if (!evict(this.stmts.stalest.get() as { host: string; key_id: string } | undefined)) break;
    return evicted;
  }

  async accept(host: string, keyId: string, by: string, at: number): Promise<boolean> {
    try {
      this.acceptNow(host, keyId, by, at);
      return true;
    } catch (err) {
      if (err === NO_SUCH_KEY) return false;
      throw err;
    }
  }

  private acceptNow(host: string, keyId: string, by: string, at: number): void {
    this.db
      .transaction(() => {
        this.stmts.retire.run(host);
        const back = this.stmts.rejected.get(host, keyId) as { public_key: string } | undefined;
        if (back) {
          this.stmts.unreject.run(host, keyId);
          this.stmts.delete.run(host, keyId);
          this.stmts.insert.run({
            host,
            keyId,
            publicKey: back.public_key,
            status: 'pending',
            now: at,
            acceptedAt: null,
            acceptedBy: null,
            sentAt: 0,
            labels: '{}',
            acceptedLabels: null,
          });
        }
        if (this.stmts.accept.run({ host, keyId, now: at, by }).changes === 0) throw NO_SUCH_KEY;
        this.stmts.withdrawOf.run(host);
      })
      .immediate();
  }

  async preAccept(host: string, keyId: string, by: string, at: number): Promise<void> {
    this.stmts.preAccept.run(host, keyId, at, by);
  }

  async withdrawPreAccepted(host: string, keyId: string): Promise<boolean> {
    return this.stmts.withdraw.run(host, keyId).changes > 0;
  }

  async listPreAccepted(): Promise<PreAcceptedKey[]> {
    return (
      this.stmts.allPreAccepted.all() as { host: string; key_id: string; accepted_at: number; accepted_by: string }[]
    ).map((r) => ({ host: r.host, keyId: r.key_id, acceptedAt: r.accepted_at, acceptedBy: r.accepted_by }));
  }

  async acceptLabels(host: string, keyId: string, labels: Labels): Promise<void> {
    this.stmts.acceptLabels.run({ host, keyId, labels: JSON.stringify(labels) });
  }

  async reject(host: string, keyId: string, by: string, at: number): Promise<void> {
    this.db
      .transaction(() => {
        this.stmts.reject.run({ host, keyId, by, at });
        this.stmts.delete.run(host, keyId);
      })
      .immediate();
  }

  async rejectedKey(host: string, keyId: string): Promise<Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'> | null> {
    const r = this.stmts.rejected.get(host, keyId) as { host: string; key_id: string; public_key: string } | undefined;
    return r ? { host: r.host, keyId: r.key_id, publicKey: r.public_key } : null;
  }
}
