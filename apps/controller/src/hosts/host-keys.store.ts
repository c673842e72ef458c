import type { KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { parsePublicKey } from '@warren/protocol';
import { HostKeyError } from '../errors/errors';
import { DATABASE, type Db } from '../store/database';

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

/** Whether the controller trusts what a host says. */
export type HostTrust =
  /** its key is accepted: its replies are stored */
  | 'accepted'
  /** seen with a key nobody accepted yet: nothing it says is stored, no command is sent to it */
  | 'pending'
  /** an accepted host now announces another key (reinstalled, or impersonated): the old key stays in force */
  | 'changed'
  /** never seen */
  | 'unknown';

/** One host's keys as `warren hosts` shows them. */
export interface HostKeyView {
  trust: HostTrust;
  /** the accepted key, if any */
  keyId: string | null;
  /** keys seen and not accepted */
  pendingKeyIds: string[];
}

interface Row {
  host: string;
  key_id: string;
  public_key: string;
  status: 'pending' | 'accepted' | 'retired';
  first_seen_at: number;
  last_seen_at: number;
}

/** Outcome of a key announced in a heartbeat. */
export type SeenResult = 'accepted' | 'new-pending' | 'pending' | 'auto-accepted' | 'changed' | 'too-many-pending';

/** Pending keys recorded for one host name at most: a flood of fake heartbeats cannot grow the table. */
export const MAX_PENDING_KEYS_PER_HOST = 4;
/** Pending keys recorded in all at most. */
export const MAX_PENDING_KEYS = 10_000;

/**
 * The agents' public keys, persisted with the tasks: an agent's replies are stored only when they
 * are signed by its accepted key, so a host that merely publishes on the replies exchange cannot
 * write another host's results. A key is recorded `pending` on first sight and accepted by an
 * operator (`warren hosts accept <host>`), or at once with `--auto-accept`, as Salt does with
 * minion keys. Accepting a new key for a host retires the old one.
 */
@Injectable()
export class HostKeysStore {
  private readonly stmts;
  /** fingerprint → host and key, of accepted keys only (the hot path of every reply) */
  private readonly acceptedByKeyId = new Map<string, { host: string; key: KeyObject }>();
  /** host → accepted fingerprint */
  private readonly acceptedByHost = new Map<string, string>();

  constructor(@Inject(DATABASE) private readonly db: Db) {
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
    for (const r of this.stmts.allAccepted.all() as Row[]) this.cache(r.host, r.key_id, r.public_key);
  }

  /**
   * Records a key a host announced (its heartbeat was verified with that very key). Returns what
   * that means: already accepted, newly pending, auto-accepted, or a changed key.
   */
  seen(host: string, publicKey: string, keyId: string, autoAccept: boolean, now = Date.now()): SeenResult {
    const row = this.stmts.get.get(host, keyId) as Row | undefined;
    if (row) {
      this.stmts.touch.run(now, host, keyId);
      if (row.status === 'accepted') return 'accepted';
      return this.acceptedByHost.has(host) ? 'changed' : 'pending';
    }
    const hasAccepted = this.acceptedByHost.has(host);
    const accept = autoAccept && !hasAccepted;
    if (!accept) {
      const ofHost = (this.stmts.pendingCountOf.get(host) as { n: number }).n;
      const all = (this.stmts.pendingCount.get() as { n: number }).n;
      if (ofHost >= MAX_PENDING_KEYS_PER_HOST || all >= MAX_PENDING_KEYS) return 'too-many-pending';
    }
    this.stmts.insert.run({
      host,
      keyId,
      publicKey,
      status: accept ? 'accepted' : 'pending',
      now,
      acceptedAt: accept ? now : null,
      acceptedBy: accept ? 'auto-accept' : null,
    });
    if (accept) {
      this.cache(host, keyId, publicKey);
      return 'auto-accepted';
    }
    return hasAccepted ? 'changed' : 'new-pending';
  }

  /**
   * Accepts a host's pending key: the only one, or the one named by `keyId` when there are several.
   * Retires the key it replaces. Throws {@link HostKeyError} when there is nothing (unambiguous) to accept.
   */
  accept(
    host: string,
    keyId: string | undefined,
    by: string,
    now = Date.now(),
  ): { keyId: string; replaced: string | null } {
    const rows = (this.stmts.byHost.all(host) as Row[]).filter((r) => r.status === 'pending');
    const pick = keyId ? rows.find((r) => r.key_id === keyId) : rows.length === 1 ? rows[0] : undefined;
    if (!pick) {
      if (keyId) throw new HostKeyError(`host ${host} has no pending key ${keyId}`);
      if (rows.length === 0) {
        const current = this.acceptedByHost.get(host);
        throw new HostKeyError(
          current ? `host ${host} has no pending key (accepted: ${current})` : `no agent has announced host ${host}`,
        );
      }
      throw new HostKeyError(
        `host ${host} has ${rows.length} pending keys (${rows.map((r) => r.key_id).join(', ')}); name one with keyId`,
      );
    }
    const replaced = this.acceptedByHost.get(host) ?? null;
    this.db.transaction(() => {
      this.stmts.retire.run(host);
      this.stmts.accept.run({ host, keyId: pick.key_id, now, by });
    })();
    if (replaced) this.acceptedByKeyId.delete(replaced);
    this.cache(host, pick.key_id, pick.public_key);
    return { keyId: pick.key_id, replaced };
  }

  /** The host whose accepted key has this fingerprint, with the key; null if none. */
  acceptedKey(keyId: string): { host: string; key: KeyObject } | null {
    return this.acceptedByKeyId.get(keyId) ?? null;
  }

  /** Where a host stands. */
  view(host: string): HostKeyView {
    const rows = this.stmts.byHost.all(host) as Row[];
    const accepted = this.acceptedByHost.get(host) ?? null;
    const pendingKeyIds = rows.filter((r) => r.status === 'pending').map((r) => r.key_id);
    const trust: HostTrust = accepted
      ? pendingKeyIds.length > 0
        ? 'changed'
        : 'accepted'
      : pendingKeyIds.length > 0
        ? 'pending'
        : 'unknown';
    return { trust, keyId: accepted, pendingKeyIds };
  }

  /** Trust of a host for dispatch: accepted, pending/changed (known, not trusted… yet), or unknown. */
  isAccepted(host: string): boolean {
    return this.acceptedByHost.has(host);
  }

  private cache(host: string, keyId: string, publicKeyBase64: string): void {
    this.acceptedByKeyId.set(keyId, { host, key: parsePublicKey(publicKeyBase64).publicKey });
    this.acceptedByHost.set(host, keyId);
  }
}
