/** Whether the controller trusts what a host says. */
export type HostTrust =
  /** its key is accepted: its replies are stored and commands are sent to it */
  | 'accepted'
  /** seen with a key nobody accepted yet: nothing it says is stored, no command is sent to it */
  | 'pending'
  /** an accepted host now announces another key (reinstalled, or impersonated): the old key stays in force */
  | 'changed'
  /** never seen */
  | 'unknown';

/** One agent in `GET /v1/hosts`. */
export interface HostView {
  host: string;
  /** offline after three missed heartbeats */
  status: 'online' | 'offline';
  /**
   * the labels accepted with the host's key (at acceptance, or later with `warren hosts accept`):
   * `labels` targeting selects by these only; {} while no key is accepted
   */
  labels: Record<string, string>;
  /** the labels the host announces now when they differ from `labels`: not used until accepted; else null */
  pendingLabels: Record<string, string> | null;
  /** the agent's version */
  version: string;
  /** commands running now */
  running: number;
  /** commands it runs at once at most */
  concurrency: number;
  /** ISO time of the last heartbeat or goodbye */
  lastSeen: string;
  trust: HostTrust;
  /** fingerprint of its accepted key; null when none is */
  keyId: string | null;
  /** fingerprints heard lately and not accepted: `warren hosts accept|reject <host>` */
  pendingKeyIds: string[];
}

/** `GET /v1/hosts`, sorted by host; a token limited to host patterns sees only matching hosts. */
export interface HostList {
  hosts: HostView[];
}

/** Body of `POST /v1/hosts/:host/accept`. */
export interface AcceptHostRequest {
  /**
   * the fingerprint to accept, when the host has announced several keys (or one rejected earlier);
   * a fingerprint not heard lately (evicted by junk keys, or not yet heard: the agent logs it at
   * start) is pre-accepted: the host's next heartbeat signed by it makes it the accepted key
   */
  keyId?: string;
}

/** Body of `POST /v1/hosts/:host/reject`. */
export interface RejectHostRequest {
  /** the pending fingerprint to reject, when the host has announced several keys; or the pre-accepted one, to withdraw */
  keyId?: string;
}

/** `200` answer of `POST /v1/hosts/:host/reject`: the key is forgotten and its heartbeats ignored. */
export interface HostRejected {
  host: string;
  /** the fingerprint rejected */
  keyId: string;
  /** true: `keyId` was the host's pre-accepted key, now withdrawn (not remembered as rejected) */
  preAccepted: boolean;
}

/** One key in `GET /v1/hosts/keys`. */
export interface HostKeyInfo {
  host: string;
  /** fingerprint (`SHA256:…`) */
  keyId: string;
  /**
   * pending keys not heard within the controller's `--pending-key-ttl` are forgotten; `pre-accepted`:
   * accepted by an operator before a heartbeat of it was heard, awaiting its first one (no expiry)
   */
  status: 'accepted' | 'pending' | 'pre-accepted';
  /** ISO time of the first and the last heartbeat of this key; null for a pre-accepted key (none heard yet) */
  firstSeen: string | null;
  lastSeen: string | null;
  /** the labels its last heartbeat announced */
  labels: Record<string, string>;
  /** the labels accepted with it; null for a pending key */
  acceptedLabels: Record<string, string> | null;
}

/** `GET /v1/hosts/keys`: accepted and pending keys by host; a token limited to host patterns sees only matching hosts. */
export interface HostKeyList {
  keys: HostKeyInfo[];
}

/** `200` answer of `POST /v1/hosts/:host/accept`. */
export interface HostAccepted {
  host: string;
  /** the fingerprint now accepted (or pre-accepted) */
  keyId: string;
  /** the key it replaces (pre-accepted: the one it will replace at its first heartbeat); null when none */
  replaced: string | null;
  /** the labels now accepted with the key: commands select the host by these ({} when pre-accepted) */
  labels: Record<string, string>;
  /**
   * `labels`: the key was accepted already, only the labels it announces now were. `pre-accepted`:
   * the key was not heard lately; the host's first heartbeat signed by it makes it the accepted key,
   * with the labels that heartbeat announces, retiring `replaced`
   */
  accepted: 'key' | 'labels' | 'pre-accepted';
  /** the host's trust now: `accepted`, except for a pre-accepted key (then as before, until its heartbeat) */
  trust: HostTrust;
}
