/** A host's labels as announced in its heartbeats (`role=db`). */
export type Labels = Record<string, string>;

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
  /** controller time of the last heartbeat of this key */
  lastSeenAt: number;
  /** the signed `sentAt` of the newest heartbeat of this key (0: none recorded): older ones are replays */
  lastSentAt: number;
  /** the labels the newest heartbeat of this key announced */
  labels: Labels;
  /** the labels an operator (or `--auto-accept`) accepted with this key; null unless accepted */
  acceptedLabels: Labels | null;
}

/** What {@link HostKeyRepository.recordSeenMany} did with one announced key. */
export type RecordSeenOutcome =
  /** the key was known: its last sighting (and labels) are updated; its status is this */
  | { known: HostKeyRecord['status'] }
  /** a new key, stored with this status; `evicted` pending keys made room for it (least recently heard first) */
  | { inserted: 'pending' | 'accepted'; evicted: Pick<HostKeyRecord, 'host' | 'keyId'>[] }
  /** the heartbeat is not newer than the newest one recorded for this key (a replay): nothing changed */
  | { stale: true }
  /** an operator rejected this key of this host (`warren hosts reject`): nothing changed */
  | { rejected: true }
  /**
   * the key an operator pre-accepted for this host (`by`): it is now the host's accepted key, with
   * the labels this heartbeat announces, and `replaced` (if any) is retired
   */
  | { preAccepted: { by: string; replaced: string | null } };

/**
 * A key an operator accepted for a host before any heartbeat of it was recorded (or after its
 * pending record was evicted): the next verified heartbeat of that host signed by it makes it the
 * host's accepted key. One per host; it takes no pending slot. Times are ms since epoch.
 */
export interface PreAcceptedKey {
  host: string;
  /** the fingerprint (`SHA256:…`) the operator gave */
  keyId: string;
  acceptedAt: number;
  acceptedBy: string;
}

/** Bounds and decision for a key announced in a heartbeat. */
export interface RecordSeenOptions {
  /**
   * store a new key `accepted` at once (auto-accept, and the host has no accepted key); stored
   * `pending` if the host has one by the time the transaction runs (accepted on another controller)
   */
  accept: boolean;
  /** ms since epoch, controller time: first/last seen, and accepted at */
  at: number;
  /** the heartbeat's signed `sentAt` (ms, agent time); undefined: not checked for replay */
  sentAt?: number;
  /** the labels the heartbeat announces */
  labels: Labels;
  /** when a new pending key finds its host with this many pending keys, the least recently heard one goes */
  maxPendingPerHost: number;
  /** … and when this many pending keys exist in all, the least recently heard of all goes */
  maxPending: number;
  /** ms since epoch: pending keys last heard before this have expired (deleted before counting) */
  pendingHeardSince: number;
}

/** One key announced in a heartbeat, and how to record it: an item of {@link HostKeyRepository.recordSeenMany}. */
export interface KeySighting {
  key: Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'>;
  opts: RecordSeenOptions;
}

/** What bounds a whole batch of {@link HostKeyRepository.recordSeenMany}. */
export interface RecordBatchOptions {
  /**
   * new keys the batch may store `accepted` on their `opts.accept` at most (the room left under the
   * auto-accept cap); past it a new key is stored `pending`, as when the cap is reached. Default: no limit
   */
  maxAutoAccepted?: number;
}

/**
 * Persistence of the agents' public keys (`warren hosts`, `warren hosts accept|reject|keys`).
 * Rejects only when the storage fails.
 */
export interface HostKeyRepository {
  /** Every accepted key (one per host at most). */
  listAccepted(): Promise<HostKeyRecord[]>;
  /** Every pending key heard since `pendingHeardSince` (ms) and every accepted key, by host, first seen first. */
  listKeys(pendingHeardSince: number): Promise<HostKeyRecord[]>;
  /** A host's accepted key and its pending keys heard since `pendingHeardSince` (ms), first seen first. */
  keysOf(host: string, pendingHeardSince: number): Promise<HostKeyRecord[]>;
  /**
   * Records the sightings of a batch of keys, in ONE transaction, each as it would be alone and in
   * the order given (a later item sees what an earlier one wrote): a rejected key or a replayed
   * heartbeat changes nothing; a known key gets its last sighting and labels updated; a new one is
   * inserted (`accepted` with `accepted_by` = `auto-accept` and the announced labels when its
   * `opts.accept` and `batch.maxAutoAccepted` allow, else `pending`, evicting the least recently
   * heard pending keys over the bounds). A key pre-accepted for the host (see {@link preAccept}) not
   * yet accepted becomes the accepted one at once. Resolves one outcome per item, in order; rejects
   * (recording nothing of the batch) when the storage fails.
   */
  recordSeenMany(items: readonly KeySighting[], batch?: RecordBatchOptions): Promise<RecordSeenOutcome[]>;
  /**
   * In one transaction, retires the host's accepted key (if any) and accepts `keyId` with the labels
   * it last announced, recording who (`by`) and when (`at`, ms). `keyId` must be one of the host's
   * keys (see {@link keysOf}) or one it rejected (see {@link rejectedKey}), which is then no longer rejected.
   * A key pre-accepted for the host is withdrawn. Resolves false, changing nothing, when there is no
   * such key (evicted meanwhile).
   */
  accept(host: string, keyId: string, by: string, at: number): Promise<boolean>;
  /** Records `keyId` as pre-accepted for `host` by `by` at `at` (ms), replacing the host's earlier one. */
  preAccept(host: string, keyId: string, by: string, at: number): Promise<void>;
  /** Withdraws the key pre-accepted for `host` if it is `keyId`; false when it is not. */
  withdrawPreAccepted(host: string, keyId: string): Promise<boolean>;
  /** Every pre-accepted key not heard yet, by host. */
  listPreAccepted(): Promise<PreAcceptedKey[]>;
  /** Accepts `labels` for the host's accepted key `keyId` (a change of labels the host announced). */
  acceptLabels(host: string, keyId: string, labels: Labels): Promise<void>;
  /** In one transaction, deletes the pending key and remembers it as rejected by `by` at `at` (ms). */
  reject(host: string, keyId: string, by: string, at: number): Promise<void>;
  /** A key of the host an operator rejected, or null. */
  rejectedKey(host: string, keyId: string): Promise<Pick<HostKeyRecord, 'host' | 'keyId' | 'publicKey'> | null>;
}

/** Injection token of the {@link HostKeyRepository}. */
export const HOST_KEY_REPOSITORY = Symbol('HOST_KEY_REPOSITORY');
