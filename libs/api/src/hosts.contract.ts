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
  labels: Record<string, string>;
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
  /** fingerprints seen and not accepted: `warren hosts accept <host>` */
  pendingKeyIds: string[];
}

/** `GET /v1/hosts`, sorted by host; a token limited to host patterns sees only matching hosts. */
export interface HostList {
  hosts: HostView[];
}

/** Body of `POST /v1/hosts/:host/accept`. */
export interface AcceptHostRequest {
  /** the fingerprint to accept, when the host has announced several keys */
  keyId?: string;
}

/** `200` answer of `POST /v1/hosts/:host/accept`. */
export interface HostAccepted {
  host: string;
  /** the fingerprint now accepted */
  keyId: string;
  /** the key it replaces; null when none */
  replaced: string | null;
  trust: 'accepted';
}
