import type { Labels } from './host-keys.port';

/**
 * A host's newest verified heartbeat (or goodbye) as persisted in `hosts`: what `warren hosts`
 * shows of it, the same on every controller and after a restart. Times are ms since epoch.
 */
export interface PresenceRecord {
  host: string;
  /** fingerprint of the key that signed it */
  keyId: string;
  /** as the agent said: `goodbye` when it stopped cleanly */
  status: 'online' | 'goodbye';
  /** the labels it announced */
  labels: Labels;
  /** the agent's version */
  version: string;
  /** commands it was running */
  running: number;
  /** commands it runs at once at most */
  concurrency: number;
  /** ms; its next heartbeat was due within this */
  intervalMs: number;
  /** the heartbeat's signed `sentAt` (the agent's clock): a record replaces a stored one only when newer */
  sentAt: number;
  /** when a controller read it (that controller's clock): offline is judged from this */
  receivedAt: number;
}

/**
 * Persistence of presence (table `hosts`), shared by every controller on one database. Each
 * controller reads every heartbeat (its own queue on the presence fanout) and records the verified
 * ones in batches; several controllers recording the same heartbeat change nothing twice. Rejects
 * only when the storage fails.
 */
export interface PresenceStore {
  /**
   * Records each heartbeat, in one transaction: a host's row is inserted, or replaced when the
   * record's `sentAt` is newer than the stored one's (an older or equal one changes nothing).
   */
  record(records: readonly PresenceRecord[]): Promise<void>;
  /** Every host's record, by host. */
  list(): Promise<PresenceRecord[]>;
  /** Deletes the records of these hosts (presence of hosts forgotten: never accepted, unheard for a day). */
  forget(hosts: readonly string[]): Promise<void>;
}

/** Injection token of the {@link PresenceStore}. */
export const PRESENCE_STORE = Symbol('PRESENCE_STORE');
