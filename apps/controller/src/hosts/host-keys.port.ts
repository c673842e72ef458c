/** One key a host announced, as persisted. Times are ms since epoch. */
export interface HostKeyRecord {
  host: string;
  /** the key's fingerprint */
  keyId: string;
  /** the Ed25519 public key, base64 (as announced) */
  publicKey: string;
  /** `accepted`: at most one per host; `retired`: replaced by a later accept */
  status: 'pending' | 'accepted' | 'retired';
  firstSeenAt: number;
  lastSeenAt: number;
}

/** What {@link HostKeyRepository.recordSeen} did with an announced key. */
export type RecordSeenOutcome =
  /** the key was known: its last sighting is updated, its status is this */
  | { known: HostKeyRecord['status'] }
  /** a new key, stored with this status */
  | { inserted: 'pending' | 'accepted' }
  /** a new pending key over the bounds: not stored */
  | { refused: 'too-many-pending' };

/** Bounds and decision for a key announced in a heartbeat. */
export interface RecordSeenOptions {
  /** store a new key `accepted` at once (auto-accept, and the host has no accepted key) */
  accept: boolean;
  /** ms since epoch: first/last seen, and accepted at */
  at: number;
  /** a new pending key is refused when its host already has this many pending keys */
  maxPendingPerHost: number;
  /** … or when this many pending keys exist in all */
  maxPending: number;
}

/**
 * Persistence of the agents' public keys (`warren hosts`, `warren hosts accept`). Rejects only when
 * the storage fails.
 */
export interface HostKeyRepository {
  /** Every accepted key (one per host at most). */
  listAccepted(): Promise<HostKeyRecord[]>;
  /** A host's pending and accepted keys (not retired ones), first seen first. */
  keysOf(host: string): Promise<HostKeyRecord[]>;
  /**
   * Records a sighting of a key, in one transaction: a known key gets its last sighting updated;
   * a new one is inserted (`accepted` with `accepted_by` = `auto-accept` when `opts.accept`,
   * else `pending` unless over the bounds).
   */
  recordSeen(
    key: Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'>,
    opts: RecordSeenOptions,
  ): Promise<RecordSeenOutcome>;
  /**
   * In one transaction, retires the host's accepted key (if any) and accepts `keyId`, recording
   * who (`by`) and when (`at`, ms). `keyId` must be one of the host's keys (see {@link keysOf}).
   */
  accept(host: string, keyId: string, by: string, at: number): Promise<void>;
}

/** Injection token of the {@link HostKeyRepository}. */
export const HOST_KEY_REPOSITORY = Symbol('HOST_KEY_REPOSITORY');
