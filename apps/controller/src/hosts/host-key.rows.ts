import type { HostKeyRecord, Labels } from './host-keys.port';

/** A row of `host_keys`, as both adapters read it (labels as JSON text). */
export interface HostKeyRow {
  host: string;
  key_id: string;
  public_key: string;
  status: 'pending' | 'accepted' | 'retired';
  first_seen_at: number;
  last_seen_at: number;
  last_sent_at: number;
  labels: string;
  accepted_labels: string | null;
}

export const toRecord = (r: HostKeyRow): HostKeyRecord => ({
  host: r.host,
  keyId: r.key_id,
  publicKey: r.public_key,
  status: r.status,
  firstSeenAt: r.first_seen_at,
  lastSeenAt: r.last_seen_at,
  lastSentAt: r.last_sent_at,
  labels: JSON.parse(r.labels) as Labels,
  acceptedLabels: r.accepted_labels === null ? null : (JSON.parse(r.accepted_labels) as Labels),
});
