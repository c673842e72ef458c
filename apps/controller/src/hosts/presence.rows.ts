import type { Labels } from './host-keys.port';
import type { PresenceRecord } from './presence-store.port';

/** A row of `hosts` as both dialects return it (times in ms). */
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

/** The record a row of `hosts` holds. */
export const toPresence = (r: PresenceRow): PresenceRecord => ({
  host: r.host,
  keyId: r.key_id,
  status: r.status,
  labels: JSON.parse(r.labels) as Labels,
  version: r.version,
  running: r.running,
  concurrency: r.concurrency,
  intervalMs: r.interval_ms,
  sentAt: r.sent_at,
  receivedAt: r.received_at,
});

/**
 * The record of each host with the newest `sentAt` (the first of equals), by host bytewise: what a
 * batch leaves in `hosts`, and an order of row locks that two controllers share (no deadlock).
 */
export function newestPerHost(records: readonly PresenceRecord[]): PresenceRecord[] {
  const newest = new Map<string, PresenceRecord>();
  for (const r of records) {
    const held = newest.get(r.host);
    if (!held || r.sentAt > held.sentAt) newest.set(r.host, r);
  }
  return [...newest.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
}
