import type { PresenceRecord } from './presence-store.port';

/** A row of table `hosts` as both dialects return it (times in ms, labels as JSON text). */
export interface PresenceRow {
  host: string;
  key_id: string;
  status: 'online' | 'goodbye';
  labels: string;
  version: string;
  running: number;
  concurrency: number;
  interval_ms: number;
  sent_at: number;
  received_at: number;
}

/** The columns of `hosts` in the order of {@link presenceParams}. */
export const PRESENCE_COLUMNS =
  'host, key_id, status, labels, version, running, concurrency, interval_ms, sent_at, received_at';

/** A record's values in the order of {@link PRESENCE_COLUMNS}. */
export function presenceParams(r: PresenceRecord): (string | number)[] {
  return [
    r.host,
    r.keyId,
    r.status,
    JSON.stringify(r.labels),
    r.version,
    r.running,
    r.concurrency,
    r.intervalMs,
    r.sentAt,
    r.receivedAt,
  ];
}

/** The record a row holds. */
export function presenceOf(row: PresenceRow): PresenceRecord {
  return {
    host: row.host,
    keyId: row.key_id,
    status: row.status,
    labels: JSON.parse(row.labels) as Record<string, string>,
    version: row.version,
    running: row.running,
    concurrency: row.concurrency,
    intervalMs: row.interval_ms,
    sentAt: row.sent_at,
    receivedAt: row.received_at,
  };
}

/** The conflict clause of every presence upsert: a host's row is replaced only by a newer heartbeat (by `sent_at`). */
export const ON_NEWER_PRESENCE = `ON CONFLICT (host) DO UPDATE SET key_id = excluded.key_id, status = excluded.status,
    labels = excluded.labels, version = excluded.version, running = excluded.running,
    concurrency = excluded.concurrency, interval_ms = excluded.interval_ms, sent_at = excluded.sent_at,
    received_at = excluded.received_at
  WHERE excluded.sent_at > hosts.sent_at`;

/**
 * The one-row upsert of the SQLite store (PostgreSQL writes a whole batch in one statement, see
 * `PgPresenceStore`; SQLite 3.24+ and PostgreSQL 9.5+ spell `ON CONFLICT … DO UPDATE` alike): a row
 * is replaced only by a newer heartbeat, so two controllers recording the same one, or an older
 * one read late, change nothing. `$1`…`$10` are placeholders in column order (the SQLite store
 * makes them `?`).
 */
export const UPSERT_PRESENCE = `INSERT INTO hosts (${PRESENCE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ${ON_NEWER_PRESENCE}`;
