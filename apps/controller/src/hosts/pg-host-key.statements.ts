import type { PgClient, PgPool } from '../store/postgres/pg.database';
import type { HostKeyRecord, RecordSeenOptions } from './host-keys.port';

// The statements PgHostKeyRepository's transactions are made of, each on the transaction's client.

/**
 * Classes (first key) of the transaction-level advisory locks taken here (two-int form of
 * `pg_advisory_xact_lock`, https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADVISORY-LOCKS):
 * one lock per host (second key `hashtext(host)`), and one for the pending-key bounds.
 */
const HOST_LOCK = 0x68_6b_01; // 'hk' 1
const BOUNDS_LOCK = 0x68_6b_02;

/** A row to insert into `host_keys`; times in ms. */
export interface NewRow {
  host: string;
  keyId: string;
  publicKey: string;
  status: 'pending' | 'accepted';
  now: number;
  acceptedBy: string | null;
  sentAt: number;
  labels: string;
}

/**
 * The least recently heard pending key (of a host, or of all): what makes room for a key heard now.
 * A key another transaction holds is being heard now, so it is skipped rather than waited for.
 */
const STALEST = `SELECT host, key_id FROM host_keys WHERE status = 'pending'`;
const STALEST_ORDER = `ORDER BY last_seen_at, first_seen_at LIMIT 1 FOR UPDATE SKIP LOCKED`;

/** Waits for, then holds until the transaction ends, the lock that serialises changes to `host`'s keys. */
export async function lockHost(c: PgClient, host: string): Promise<void> {
  await c.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [HOST_LOCK, host]);
}

/**
 * Waits for, then holds until the transaction ends, the locks of every host of `hosts` (a batch),
 * taken in the order of their lock keys: every transaction that holds several takes them so, and
 * the bounds lock only after them, so none waits for another in a circle.
 */
export async function lockHosts(c: PgClient, hosts: readonly string[]): Promise<void> {
  // A subquery with ORDER BY is not flattened: the locks are taken row by row, in its order.
  await c.query(
    `SELECT pg_advisory_xact_lock($1, k) FROM (SELECT DISTINCT hashtext(h) AS k FROM unnest($2::text[]) AS h ORDER BY k) AS s`,
    [HOST_LOCK, [...new Set(hosts)]],
  );
}

/** The public key of `keyId` if an operator rejected it for `host`, or null. */
export async function rejectedOf(
  c: PgClient | PgPool,
  host: string,
  keyId: string,
): Promise<{ publicKey: string } | null> {
  const { rows } = await c.query<{ public_key: string }>(
    `SELECT public_key FROM host_key_rejections WHERE host = $1 AND key_id = $2`,
    [host, keyId],
  );
  return rows[0] ? { publicKey: rows[0].public_key } : null;
}

/** The host's accepted key id, or null. */
export async function acceptedOf(c: PgClient, host: string): Promise<string | null> {
  const { rows } = await c.query<{ key_id: string }>(
    `SELECT key_id FROM host_keys WHERE host = $1 AND status = 'accepted'`,
    [host],
  );
  return rows[0]?.key_id ?? null;
}

/** Inserts a key first and last heard now; an accepted one with its announced labels accepted. */
export async function insert(c: PgClient, r: NewRow): Promise<void> {
  const accepted = r.status === 'accepted';
  await c.query(
    `INSERT INTO host_keys (host, key_id, public_key, status, first_seen_at, last_seen_at, accepted_at, accepted_by,
                            last_sent_at, labels, accepted_labels)
     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10)`,
    [
      r.host,
      r.keyId,
      r.publicKey,
      r.status,
      r.now,
      accepted ? r.now : null,
      r.acceptedBy,
      r.sentAt,
      r.labels,
      accepted ? r.labels : null,
    ],
  );
}

/**
 * Under the bounds lock: expires pending keys not heard lately, then evicts the least recently heard
 * ones over the per-host and global bounds (keys other transactions hold are skipped: see `STALEST`).
 */
export async function makeRoom(
  c: PgClient,
  host: string,
  opts: RecordSeenOptions,
): Promise<Pick<HostKeyRecord, 'host' | 'keyId'>[]> {
  await c.query(`SELECT pg_advisory_xact_lock($1, 0)`, [BOUNDS_LOCK]);
  await c.query(
    `DELETE FROM host_keys WHERE (host, key_id) IN
       (SELECT host, key_id FROM host_keys WHERE status = 'pending' AND last_seen_at < $1 FOR UPDATE SKIP LOCKED)`,
    [opts.pendingHeardSince],
  );
  const evicted: Pick<HostKeyRecord, 'host' | 'keyId'>[] = [];
  const count = async (sql: string, params: unknown[]) =>
    (await c.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM host_keys WHERE status = 'pending' ${sql}`, params))
      .rows[0].n;
  const evict = async (sql: string, params: unknown[]) => {
    const r = (await c.query<{ host: string; key_id: string }>(`${STALEST} ${sql} ${STALEST_ORDER}`, params)).rows[0];
    if (!r) return false;
    await c.query(`DELETE FROM host_keys WHERE host = $1 AND key_id = $2`, [r.host, r.key_id]);
    evicted.push({ host: r.host, keyId: r.key_id });
    return true;
  };
  while ((await count('AND host = $1', [host])) >= opts.maxPendingPerHost)
    if (!(await evict('AND host = $1', [host]))) break;
  while ((await count('', [])) >= opts.maxPending) if (!(await evict('', []))) break;
  return evicted;
}
