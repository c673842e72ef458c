import { inTransaction, type PgClient, type PgPool } from '../store/postgres/pg.database';
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
import { acceptedOf, insert, lockHost, lockHosts, makeRoom, rejectedOf } from './pg-host-key.statements';

/** Thrown inside a transaction to roll it back: the key to accept is gone. */
const NO_SUCH_KEY = Symbol('no such key');

/** Not retired, and not a pending key last heard before `$n` (expired). */
const live = (n: number) => `(status = 'accepted' OR (status = 'pending' AND last_seen_at >= $${n}))`;

/**
 * The agents' public keys in PostgreSQL (tables `host_keys`, `host_key_rejections`,
 * `host_key_pre_accepts` of migration 0001), with the semantics of the SQLite repository, shared by
 * every controller on the database. Several controllers hear the same heartbeat (each has its own
 * presence queue) and an operator may accept on one while another records a heartbeat: every
 * transaction that reads a host's keys and then changes them first takes that host's advisory lock,
 * so they run one after the other per host (the second record of a new key finds it known;
 * `host_keys_one_accepted` never sees two accepted keys). A batch of heartbeats takes the locks of
 * all its hosts at once, in one order (by lock key) every controller follows, so two batches never
 * wait on each other in a circle. Evictions over the pending bounds, which touch other hosts' keys,
 * also hold one lock for the bounds (taken after any host lock), and skip a key another transaction
 * holds (it is being heard now), so two new keys never both take the last slot and an eviction never
 * waits for a heartbeat. The common heartbeat (a known key, nothing to decide) is one `UPDATE`. Host
 * names and key ids sort bytewise (`COLLATE "C"`), as in SQLite.
 */
export class PgHostKeyRepository implements HostKeyRepository {
  constructor(private readonly pool: PgPool) {}

  async listAccepted(): Promise<HostKeyRecord[]> {
    const { rows } = await this.pool.query<HostKeyRow>(`SELECT * FROM host_keys WHERE status = 'accepted'`);
    return rows.map(toRecord);
  }

  async listKeys(pendingHeardSince: number): Promise<HostKeyRecord[]> {
    const { rows } = await this.pool.query<HostKeyRow>(
      `SELECT * FROM host_keys WHERE ${live(1)} ORDER BY host COLLATE "C", first_seen_at, key_id COLLATE "C"`,
      [pendingHeardSince],
    );
    return rows.map(toRecord);
  }

  async keysOf(host: string, pendingHeardSince: number): Promise<HostKeyRecord[]> {
    const { rows } = await this.pool.query<HostKeyRow>(
      `SELECT * FROM host_keys WHERE host = $1 AND ${live(2)} ORDER BY first_seen_at, key_id COLLATE "C"`,
      [host, pendingHeardSince],
    );
    return rows.map(toRecord);
  }

  async recordSeenMany(items: readonly KeySighting[], batch: RecordBatchOptions = {}): Promise<RecordSeenOutcome[]> {
    if (items.length === 0) return [];
    return inTransaction(this.pool, async (c) => {
      await lockHosts(
        c,
        items.map((i) => i.key.host),
      );
      let acceptable = batch.maxAutoAccepted ?? Infinity;
      const outcomes: RecordSeenOutcome[] = [];
      for (const { key, opts } of items) {
        const out = await this.recordOne(c, key, { ...opts, accept: opts.accept && acceptable > 0 });
        if ('inserted' in out && out.inserted === 'accepted') acceptable--;
        outcomes.push(out);
      }
      return outcomes;
    });
  }

  /** One sighting of {@link recordSeenMany}, in its transaction, under the host's lock. */
  private async recordOne(
    c: PgClient,
    key: Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'>,
    opts: RecordSeenOptions,
  ): Promise<RecordSeenOutcome> {
    const { host, keyId, publicKey } = key;
    const base = {
      host,
      keyId,
      publicKey,
      now: opts.at,
      sentAt: opts.sentAt ?? 0,
      labels: JSON.stringify(opts.labels),
    };
    const known = await this.touchKnown(c, base, opts.sentAt);
    if (known) return { known };
    if (await rejectedOf(c, host, keyId)) return { rejected: true };
    const row = (await c.query<HostKeyRow>(`SELECT * FROM host_keys WHERE host = $1 AND key_id = $2`, [host, keyId]))
      .rows[0];
    if (row && opts.sentAt !== undefined && opts.sentAt <= row.last_sent_at) return { stale: true };
    const pre = await c.query<{ accepted_by: string; key_id: string }>(
      `SELECT accepted_by, key_id FROM host_key_pre_accepts WHERE host = $1`,
      [host],
    );
    const preAccepted = pre.rows[0]?.key_id === keyId ? pre.rows[0] : undefined;
    if (preAccepted && row?.status !== 'accepted') {
      // Pre-accepted: accepted at once, a pending (or retired) record of it replaced, no slot taken.
      const current = await acceptedOf(c, host);
      await c.query(`UPDATE host_keys SET status = 'retired' WHERE host = $1 AND status = 'accepted'`, [host]);
      await c.query(`DELETE FROM host_keys WHERE host = $1 AND key_id = $2`, [host, keyId]);
      await c.query(`DELETE FROM host_key_pre_accepts WHERE host = $1`, [host]);
      const by = preAccepted.accepted_by;
      await insert(c, { ...base, status: 'accepted', acceptedBy: by });
      return { preAccepted: { by, replaced: current } };
    }
    // A known key that is neither rejected, replayed nor pre-accepted was touched above (the host's
    // lock keeps it so): this one is new. An operator pre-accepted another key for this host, or
    // another controller accepted one since the caller looked: it waits for an operator.
    const accept = opts.accept && pre.rows.length === 0 && (await acceptedOf(c, host)) === null;
    const evicted = accept ? [] : await makeRoom(c, host, opts);
    await insert(c, { ...base, status: accept ? 'accepted' : 'pending', acceptedBy: accept ? 'auto-accept' : null });
    return { inserted: accept ? 'accepted' : 'pending', evicted };
  }

  /**
   * The common heartbeat, in one statement: a known key, neither rejected, nor replayed, nor
   * pre-accepted while not accepted, gets its sighting recorded; its status, or null when any of
   * that does not hold (then {@link recordOne} reads the host's keys and decides).
   */
  private async touchKnown(
    c: PgClient,
    k: { host: string; keyId: string; now: number; labels: string },
    sentAt: number | undefined,
  ): Promise<HostKeyRecord['status'] | null> {
    const { rows } = await c.query<{ status: HostKeyRecord['status'] }>(
      `UPDATE host_keys k SET last_seen_at = $3, last_sent_at = GREATEST(last_sent_at, $4), labels = $5,
              accepted_labels = CASE WHEN status = 'accepted' THEN COALESCE(accepted_labels, $5) END
       WHERE host = $1 AND key_id = $2 AND ($6::bigint IS NULL OR last_sent_at < $6)
         AND NOT EXISTS (SELECT 1 FROM host_key_rejections r WHERE r.host = $1 AND r.key_id = $2)
         AND (status = 'accepted' OR NOT EXISTS (SELECT 1 FROM host_key_pre_accepts p WHERE p.host = $1 AND p.key_id = $2))
       RETURNING status`,
      [k.host, k.keyId, k.now, sentAt ?? 0, k.labels, sentAt ?? null],
    );
    return rows[0]?.status ?? null;
  }

  async accept(host: string, keyId: string, by: string, at: number): Promise<boolean> {
    try {
      await inTransaction(this.pool, async (c) => {
        await lockHost(c, host);
        await c.query(`UPDATE host_keys SET status = 'retired' WHERE host = $1 AND status = 'accepted'`, [host]);
        const back = await rejectedOf(c, host, keyId);
        if (back) {
          await c.query(`DELETE FROM host_key_rejections WHERE host = $1 AND key_id = $2`, [host, keyId]);
          await c.query(`DELETE FROM host_keys WHERE host = $1 AND key_id = $2`, [host, keyId]);
          const fresh = { host, keyId, publicKey: back.publicKey, now: at, sentAt: 0, labels: '{}' };
          await insert(c, { ...fresh, status: 'pending', acceptedBy: null });
        }
        const done = await c.query(
          `UPDATE host_keys SET status = 'accepted', accepted_at = $3, accepted_by = $4, accepted_labels = labels
           WHERE host = $1 AND key_id = $2`,
          [host, keyId, at, by],
        );
        if (done.rowCount === 0) throw NO_SUCH_KEY;
        await c.query(`DELETE FROM host_key_pre_accepts WHERE host = $1`, [host]);
      });
      return true;
    } catch (err) {
      if (err === NO_SUCH_KEY) return false;
      throw err;
    }
  }

  async preAccept(host: string, keyId: string, by: string, at: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO host_key_pre_accepts (host, key_id, accepted_at, accepted_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (host) DO UPDATE SET key_id = EXCLUDED.key_id, accepted_at = EXCLUDED.accepted_at,
                                        accepted_by = EXCLUDED.accepted_by`,
      [host, keyId, at, by],
    );
  }

  async withdrawPreAccepted(host: string, keyId: string): Promise<boolean> {
    const r = await this.pool.query(`DELETE FROM host_key_pre_accepts WHERE host = $1 AND key_id = $2`, [host, keyId]);
    return (r.rowCount ?? 0) > 0;
  }

  async listPreAccepted(): Promise<PreAcceptedKey[]> {
    const { rows } = await this.pool.query<{ host: string; key_id: string; accepted_at: number; accepted_by: string }>(
      `SELECT * FROM host_key_pre_accepts ORDER BY host COLLATE "C"`,
    );
    return rows.map((r) => ({ host: r.host, keyId: r.key_id, acceptedAt: r.accepted_at, acceptedBy: r.accepted_by }));
  }

  async acceptLabels(host: string, keyId: string, labels: Labels): Promise<void> {
    await this.pool.query(
      `UPDATE host_keys SET accepted_labels = $3 WHERE host = $1 AND key_id = $2 AND status = 'accepted'`,
      [host, keyId, JSON.stringify(labels)],
    );
  }

  async reject(host: string, keyId: string, by: string, at: number): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await lockHost(c, host);
      await c.query(
        `INSERT INTO host_key_rejections (host, key_id, public_key, rejected_at, rejected_by)
         SELECT host, key_id, public_key, $3, $4 FROM host_keys WHERE host = $1 AND key_id = $2
         ON CONFLICT (host, key_id) DO UPDATE SET public_key = EXCLUDED.public_key,
                                                  rejected_at = EXCLUDED.rejected_at, rejected_by = EXCLUDED.rejected_by`,
        [host, keyId, at, by],
      );
      await c.query(`DELETE FROM host_keys WHERE host = $1 AND key_id = $2`, [host, keyId]);
    });
  }

  async rejectedKey(host: string, keyId: string): Promise<Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'> | null> {
    const r = await rejectedOf(this.pool, host, keyId);
    return r ? { host, keyId, publicKey: r.publicKey } : null;
  }
}
