import type { KeyObject } from 'node:crypto';
import { parsePublicKey } from '@warren/protocol';
import type { HostKeyRecord, Labels, RecordSeenOutcome } from './host-keys.port';
import type { Seen, Sighting } from './host-keys.types';
import { sameLabels } from './labels.compare';

/**
 * The accepted host keys held in memory by the {@link HostKeysStore}: every reply is checked
 * against them (the hot path), by fingerprint, and targeting reads the labels accepted with them,
 * by host. One key per host: caching a host's new key drops its old one.
 */
export class AcceptedKeys {
  /** fingerprint → host and key */
  private readonly byKeyId = new Map<string, { host: string; key: KeyObject }>();
  /** host → accepted fingerprint and the labels accepted with it (null: not yet recorded, see the repository) */
  private readonly byHost = new Map<string, { keyId: string; labels: Labels | null }>();

  get size(): number {
    return this.byHost.size;
  }

  /** The host's accepted fingerprint and labels, if any. */
  of(host: string): { keyId: string; labels: Labels | null } | undefined {
    return this.byHost.get(host);
  }

  /** The host whose accepted key has this fingerprint, with the key; null if none. */
  key(keyId: string): { host: string; key: KeyObject } | null {
    return this.byKeyId.get(keyId) ?? null;
  }

  /** Holds `keyId` (base64 SPKI `publicKey`) as `host`'s accepted key with its labels, dropping the one it replaces. */
  set(host: string, keyId: string, publicKey: string, labels: Labels | null): void {
    const old = this.byHost.get(host);
    if (old && old.keyId !== keyId) this.byKeyId.delete(old.keyId);
    this.byKeyId.set(keyId, { host, key: parsePublicKey(publicKey).publicKey });
    this.byHost.set(host, { keyId, labels });
  }

  /** Accepts other labels with the host's key. */
  setLabels(host: string, keyId: string, labels: Labels): void {
    this.byHost.set(host, { keyId, labels });
  }

  /** Forgets a key retired by an accept elsewhere in the store (the fingerprint it had). */
  dropKey(keyId: string): void {
    this.byKeyId.delete(keyId);
  }

  /** Holds what the repository says of `host` now: its accepted record, or none (forgotten here too). */
  sync(host: string, current: HostKeyRecord | undefined): void {
    if (current) return this.set(host, current.keyId, current.publicKey, current.acceptedLabels);
    const old = this.byHost.get(host);
    if (old) this.byKeyId.delete(old.keyId);
    this.byHost.delete(host);
  }

  /** Hosts whose holding here differs from `rows` (every accepted record in the repository). */
  stale(rows: readonly HostKeyRecord[]): string[] {
    const hosts = new Set(rows.map((r) => r.host));
    const gone = [...this.byHost.keys()].filter((h) => !hosts.has(h));
    const changed = rows
      .filter((r) => {
        const held = this.byHost.get(r.host);
        return held?.keyId !== r.keyId || !sameLabels(held.labels ?? {}, r.acceptedLabels ?? {});
      })
      .map((r) => r.host);
    return [...gone, ...changed];
  }

  /**
   * What a sighting the repository recorded means, this cache updated to it. `reload`: the key is
   * accepted in the repository but not here (accepted through another controller on the database):
   * the caller reads the host again.
   */
  apply(s: Sighting, outcome: RecordSeenOutcome): { seen: Seen; reload: boolean } {
    const { host, keyId, publicKey } = s;
    const accepted = this.of(host);
    const labels = s.labels ?? {};
    const seen = (result: Seen['result'], evicted: Seen['evicted'] = []) => ({
      seen: { result, evicted },
      reload: false,
    });
    if ('stale' in outcome) return seen('stale');
    if ('rejected' in outcome) return seen('rejected');
    if ('preAccepted' in outcome) {
      if (outcome.preAccepted.replaced) this.dropKey(outcome.preAccepted.replaced);
      this.set(host, keyId, publicKey, labels);
      return { seen: { result: 'pre-accepted', evicted: [], acceptedBy: outcome.preAccepted.by }, reload: false };
    }
    if ('known' in outcome) {
      if (outcome.known !== 'accepted') return seen(accepted ? 'changed' : 'pending');
      if (accepted && accepted.labels === null) accepted.labels = labels; // see the repository's touch
      return { seen: { result: 'accepted', evicted: [] }, reload: !accepted };
    }
    if (outcome.inserted === 'accepted') {
      this.set(host, keyId, publicKey, labels);
      return seen('auto-accepted');
    }
    return seen(accepted ? 'changed' : 'new-pending', outcome.evicted);
  }
}
