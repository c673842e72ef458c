import type { HostTrust } from '@warren/api';
import type { HostKeyRecord, Labels } from './host-keys.port';

/** Whether the controller trusts what a host says: the contract's `HostTrust`. */
export type { HostTrust };

/** One host's keys as `warren hosts` shows them. */
export interface HostKeyView {
  trust: HostTrust;
  /** the accepted key, if any */
  keyId: string | null;
  /** keys seen lately and not accepted */
  pendingKeyIds: string[];
}

/** Outcome of a key announced in a heartbeat. */
export type SeenResult =
  | 'accepted'
  | 'new-pending'
  | 'pending'
  | 'auto-accepted'
  | 'changed'
  /** not newer than the newest heartbeat of this key: a replay, ignored */
  | 'stale'
  /** a key an operator rejected, ignored */
  | 'rejected'
  /** the first heartbeat of the key an operator pre-accepted for this host: it is accepted now */
  | 'pre-accepted';

/** Pending keys recorded for one host name at most: a flood of fake heartbeats cannot grow the table. */
export const MAX_PENDING_KEYS_PER_HOST = 4;
/** Pending keys recorded in all at most. */
export const MAX_PENDING_KEYS = 10_000;
/** `--auto-accept` accepts a first key only while fewer hosts than this have an accepted key. */
export const MAX_AUTO_ACCEPTED = 10_000;

/** How many pending keys are kept, and for how long without a heartbeat. */
export interface HostKeyBounds {
  /** ms; a pending key not heard from within this is forgotten (`--pending-key-ttl`) */
  pendingKeyTtlMs: number;
  /** pending keys per host name; a new one evicts the least recently heard */
  maxPendingPerHost: number;
  /** pending keys in all; a new one evicts the least recently heard of all */
  maxPending: number;
  /**
   * accepted hosts at which `--auto-accept` stops (a new key is then pending): forged host names
   * cannot grow the accepted keys (kept in memory) without bound
   */
  maxAutoAccepted: number;
}

/** Injection token of the {@link HostKeyBounds} (optional: {@link DEFAULT_HOST_KEY_BOUNDS}). */
export const HOST_KEY_BOUNDS = Symbol('HOST_KEY_BOUNDS');

/** 24 h, 4 per host, 10,000 in all; auto-accept up to 10,000 accepted hosts. */
export const DEFAULT_HOST_KEY_BOUNDS: HostKeyBounds = {
  pendingKeyTtlMs: 24 * 3_600_000,
  maxPendingPerHost: MAX_PENDING_KEYS_PER_HOST,
  maxPending: MAX_PENDING_KEYS,
  maxAutoAccepted: MAX_AUTO_ACCEPTED,
};

/** What an accept did: a key (with the labels it announced) or, for an accepted key, a change of its labels. */
export interface AcceptOutcome {
  keyId: string;
  /** the key it replaces (pre-accepted: will replace at its first heartbeat); null when none (and for labels) */
  replaced: string | null;
  /** the labels now accepted: commands target the host by these ({} when pre-accepted: its heartbeat's) */
  labels: Labels;
  /**
   * `labels`: the key was already accepted; only its announced labels were. `pre-accepted`: the key
   * was not heard lately (evicted, or not yet heard): its first heartbeat makes it the accepted key
   */
  accepted: 'key' | 'labels' | 'pre-accepted';
}

/** The heartbeat's outcome: `acceptedBy` names who pre-accepted the key, for `pre-accepted`. */
export type Seen = { result: SeenResult; evicted: Pick<HostKeyRecord, 'host' | 'keyId'>[]; acceptedBy?: string };

/** A key a verified heartbeat announced: an item of `HostKeysStore.seenMany`. */
export interface Sighting {
  host: string;
  /** base64 SPKI DER, as announced */
  publicKey: string;
  /** its fingerprint */
  keyId: string;
  /** the heartbeat's signed `sentAt` (ms, agent time); undefined: no replay check */
  sentAt?: number;
  /** the labels it announces ({} when undefined) */
  labels?: Labels;
}
