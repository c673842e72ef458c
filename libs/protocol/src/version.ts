/**
 * Wire protocol version this build speaks, carried in every message as `v`. Raise it only for a
 * change an agent or controller of the previous version cannot read; a receiver accepts
 * {@link MIN_PROTOCOL_VERSION} to this (N and N−1), so a fleet is upgraded controller first, then
 * host by host (docs/install-agent.md, "Upgrading"). Raising it takes more than this constant: the
 * decoders must read both versions' fields, and a controller of N must send an agent still at N−1
 * (as its heartbeats' `v` say) commands and cancels of version N−1.
 */
export const PROTOCOL_VERSION = 2;

/**
 * What each protocol version added, newest first:
 * - 2: file transfer (`transfer` and `stdin` on commands, `file` on results, the `ready` and
 *   `fileChunk` kinds, the files exchange and queues; see `files.ts`).
 * - 1: the first.
 */
export const PROTOCOL_HISTORY = { 2: 'file transfer', 1: 'the first' } as const;

/** Oldest protocol version a receiver of this build accepts: N−1, and never below 1 (the first). */
export const MIN_PROTOCOL_VERSION: number = Math.max(1, PROTOCOL_VERSION - 1);

/** Value of the AMQP `app_id` property on everything Warren publishes. */
export const APP_ID = 'warren';

/** Version of this Warren build, reported by agents in presence heartbeats; package.json's `version`. */
export const WARREN_VERSION = '0.1.0';

/** The range of protocol versions a receiver accepts: {@link MIN_PROTOCOL_VERSION} to {@link PROTOCOL_VERSION}. */
export interface ProtocolRange {
  min: number;
  max: number;
}

/** This build's range. */
export const ACCEPTED_PROTOCOLS: ProtocolRange = { min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION };

/** Whether a message's `v` is an integer protocol version within `range` (this build's by default). */
export function isAcceptedProtocol(v: unknown, range: ProtocolRange = ACCEPTED_PROTOCOLS): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= range.min && v <= range.max;
}

/**
 * The problem with a message of protocol `v` (an integer) outside `range`, naming both, for logs and
 * `rejected` reasons: `agent speaks protocol 0; this controller accepts 1 to 2`. `sender` and
 * `receiver` say who is who.
 */
export function protocolProblem(
  v: number,
  sender: 'agent' | 'controller',
  receiver: 'agent' | 'controller',
  range: ProtocolRange = ACCEPTED_PROTOCOLS,
): string {
  return `${sender} speaks protocol ${v}; this ${receiver} accepts ${range.min} to ${range.max}`;
}
