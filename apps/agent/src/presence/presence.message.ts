import { type PresenceMessage, PROTOCOL_VERSION, WARREN_VERSION } from '@warren/protocol';

/** What a heartbeat says about this agent. */
export interface PresenceFacts {
  host: string;
  labels: Record<string, string>;
  concurrency: number;
  /** ms; the next heartbeat is due within this */
  intervalMs: number;
  /** base64 SPKI DER of the agent's public key */
  publicKey: string;
}

/** A heartbeat (`online`) or the last word of a clean shutdown (`goodbye`). */
export function presenceMessage(
  facts: PresenceFacts,
  status: 'online' | 'goodbye',
  running: number,
  /** ms since the epoch: its `sentAt` */
  now: number,
): PresenceMessage {
  return {
    v: PROTOCOL_VERSION,
    kind: 'presence',
    host: facts.host,
    status,
    labels: facts.labels,
    version: WARREN_VERSION,
    running,
    concurrency: facts.concurrency,
    intervalMs: facts.intervalMs,
    sentAt: now,
    publicKey: facts.publicKey,
  };
}
