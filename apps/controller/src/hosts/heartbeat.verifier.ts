import { decodePresence, keyRing, parsePublicKey, type PresenceMessage, verifyBody } from '@warren/protocol';
import type { Logger } from 'pino';
import type { HeardMessage } from './heartbeat.queue';
import { ProtocolMismatchLog } from './protocol-mismatch.log';

/** A host is offline after this many missed heartbeat intervals. */
export const MISSED_HEARTBEATS = 3;
/** ms; how far an agent's clock may differ from the controller's for its heartbeats to count */
export const HEARTBEAT_SKEW_MS = 30_000;

/** A heartbeat worth recording, read at `at` (ms since epoch) and signed with the key `keyId` it announces. */
export interface VerifiedHeartbeat {
  p: PresenceMessage;
  at: number;
  keyId: string;
}

/**
 * Checks each heartbeat before its key is recorded: it must decode (in this controller's protocol
 * version: others are counted and logged once per host), be signed with the key it announces, and
 * be sent within the presence window of the controller's clock. What fails is logged with its reason.
 */
export class HeartbeatVerifier {
  /** presence messages dropped as malformed (a bad label, version…) */
  private rejected = 0;
  /** heartbeats of agents whose protocol version this controller does not accept, counted and logged once per host */
  readonly mismatches: ProtocolMismatchLog;

  constructor(private readonly log: Logger) {
    this.mismatches = new ProtocolMismatchLog(log, 'heartbeat');
  }

  /** The heartbeat in `d`, read at `at` (ms since epoch), with the key it is signed with; null (and logged) when it is not to be recorded. */
  verify(d: HeardMessage, at: number): VerifiedHeartbeat | null {
    const decoded = decodePresence(d.content);
    if (!decoded.ok && decoded.wrongVersion !== undefined) {
      this.mismatches.report(decoded.partial.host, decoded.wrongVersion, decoded.reason);
      return null;
    }
    if (!decoded.ok) {
      this.log.warn({ reason: decoded.reason, rejected: ++this.rejected }, 'rejected presence message');
      return null;
    }
    const p = decoded.message;
    let key;
    try {
      key = parsePublicKey(p.publicKey);
    } catch (err) {
      this.log.warn({ host: p.host, reason: (err as Error).message }, 'rejected presence message');
      return null;
    }
    const v = verifyBody(d.content, d.properties.headers as Record<string, unknown> | undefined, keyRing([key]));
    if (!v.ok) {
      this.log.warn({ host: p.host, reason: v.reason }, 'rejected presence message');
      return null;
    }
    return this.withinWindow(p, at) ? { p, at, keyId: key.keyId } : null;
  }

  /**
   * False (and logged) for a heartbeat whose signed `sentAt` is older than the presence window
   * (3 intervals) or in the future, beyond {@link HEARTBEAT_SKEW_MS} either way: a captured
   * heartbeat played later says nothing about now.
   */
  private withinWindow(p: PresenceMessage, now: number): boolean {
    const oldest = now - MISSED_HEARTBEATS * p.intervalMs - HEARTBEAT_SKEW_MS;
    if (p.sentAt >= oldest && p.sentAt <= now + HEARTBEAT_SKEW_MS) return true;
    this.log.warn(
      { host: p.host, sentAt: p.sentAt, now, skewMs: HEARTBEAT_SKEW_MS },
      p.sentAt > now
        ? 'ignored a heartbeat sent in the future (check the agent clock)'
        : 'ignored a heartbeat sent too long ago (replayed, or the agent clock is behind)',
    );
    return false;
  }
}
