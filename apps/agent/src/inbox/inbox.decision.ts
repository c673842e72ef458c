import type { KeyObject } from 'node:crypto';
import { type CommandMessage, decodeCommand, LIMITS, type RejectCode, verifyBody } from '@warren/protocol';
import type { JournaledOutcome } from '../journal/invocation.journal';

/** What arrived: the delivery's bytes and the AMQP properties we look at. */
export interface Incoming {
  content: Buffer;
  headers: Record<string, unknown> | undefined;
  /** AMQP correlation_id; for an unverifiable message, only a claim */
  correlationId: unknown;
}

/** Where an invocation id stands on this agent right now. */
export type Seen = 'running' | 'waiting' | 'journaled' | null;

/** What admission needs to know about the agent. */
export interface AdmitContext {
  host: string;
  /** this installation's namespace: a command issued in another is refused */
  namespace: string;
  /** fingerprint of this agent's own key: a command addressed to another key is refused */
  agentKeyId: string;
  /** controller keys we obey: fingerprint → key */
  trusted: ReadonlyMap<string, KeyObject>;
  now: number;
  /** ms of clock difference tolerated on issue and expiry times */
  skewMs: number;
  seen(invocationId: string): Seen;
  outcomeOf(invocationId: string): JournaledOutcome | null;
}

/** Whom to answer about a refused message. */
export interface Answer {
  invocationId: string;
  taskId: string;
}

/** What to do with a delivery the moment it arrives. */
export type Admission =
  | { action: 'queue'; command: CommandMessage }
  | {
      action: 'reject';
      code: RejectCode;
      /** one line, for the log and the `rejected` reply */
      reason: string;
      /** whom to answer; ids of an unverified message are only what it claims */
      answer: Answer;
      /**
       * true when the command was verified (the reply goes to its signed `replyTo`); false when
       * nothing in it can be trusted (the reply goes to the default results route)
       */
      verified: boolean;
    };

/** Longest correlation id taken as an invocation id from an unverified message. */
const MAX_ID = 128;

/**
 * Admits a delivery, checking in this order and before anything else acts on it: its size, the signature
 * over the whole body by a trusted controller key (nothing is parsed before that), that it is of a
 * protocol version this agent accepts (else `protocol_version`), that it decodes as a command, that
 * it is for this namespace, this host and this agent's key (so that a copy replayed into another
 * installation, or after this host's state and key were wiped, runs nowhere else), that it was not
 * issued in the future (beyond the clock skew) nor has expired, and that its invocation id has never been accepted here (running,
 * waiting, or in the journal, whatever the `redelivered` flag says). The skew applies to the issue
 * time only. What passes waits for a slot.
 */
export function admit(m: Incoming, ctx: AdmitContext): Admission {
  // Size first: it costs nothing, and a huge body is not even hashed.
  if (m.content.length > LIMITS.maxCommandMessageBytes) {
    return unverified(
      'oversized',
      `message of ${m.content.length} bytes exceeds the ${LIMITS.maxCommandMessageBytes}-byte limit`,
      m.correlationId,
    );
  }
  const v = verifyBody(m.content, m.headers, ctx.trusted);
  if (!v.ok) return unverified(v.code, v.reason, m.correlationId);
  const decoded = decodeCommand(m.content);
  // Signed by a trusted controller in a protocol this agent does not speak: answered as a verified
  // refusal (on its signed reply route), so the controller's user reads why: upgrade the agent.
  if (!decoded.ok && decoded.wrongVersion !== undefined) return wrongProtocol(decoded, m.correlationId);
  if (!decoded.ok) return unverified('malformed', decoded.reason, m.correlationId);
  const c = decoded.message;
  const answer = { invocationId: c.invocationId, taskId: c.taskId };
  const refuse = (code: RejectCode, reason: string): Admission => ({
    action: 'reject',
    code,
    reason,
    answer,
    verified: true,
  });
  const misaddressed = misaddressing(c, ctx);
  if (misaddressed) return refuse(misaddressed.code, misaddressed.reason);
  if (c.issuedAt > ctx.now + ctx.skewMs) {
    return refuse(
      'not_yet_valid',
      `issued ${Math.round((c.issuedAt - ctx.now) / 1000)} s in the future, beyond the ${Math.round(ctx.skewMs / 1000)} s clock skew`,
    );
  }
  // No skew on expiry: the controller declares the command `undelivered` soon after it, and a
  // command started later than that would be reported as never delivered. Keep clocks in sync (NTP).
  if (ctx.now > c.expiresAt)
    return refuse('expired', `expired ${new Date(c.expiresAt).toISOString()}, before it could start`);
  const seen = ctx.seen(c.invocationId);
  if (seen) return refuse('replay', replayReason(seen, ctx.outcomeOf(c.invocationId)));
  return { action: 'queue', command: c };
}

/**
 * Why a verified command or cancel is not for this agent, or null when it is: another namespace,
 * another host, or another agent key than ours (the one the controller accepted for this host when
 * it signed it). Checked in that order, so the reason names the widest mismatch.
 */
export function misaddressing(
  c: Pick<CommandMessage, 'namespace' | 'host' | 'agentKeyId'>,
  ctx: Pick<AdmitContext, 'namespace' | 'host' | 'agentKeyId'>,
): { code: RejectCode; reason: string } | null {
  if (c.namespace !== ctx.namespace)
    return {
      code: 'wrong_namespace',
      reason: `wrong namespace: issued in namespace ${c.namespace}, this agent serves ${ctx.namespace}; not run`,
    };
  if (c.host !== ctx.host)
    return { code: 'wrong_host', reason: `wrong host: the command is for ${c.host}, this is ${ctx.host}` };
  if (c.agentKeyId !== ctx.agentKeyId)
    return {
      code: 'wrong_key',
      reason: `wrong agent key: the command is addressed to key ${c.agentKeyId}, this agent's key is ${ctx.agentKeyId}; not run`,
    };
  return null;
}

function unverified(code: RejectCode, reason: string, correlationId: unknown): Admission {
  return {
    action: 'reject',
    code,
    reason,
    answer: { invocationId: idOf(correlationId), taskId: 'unknown' },
    verified: false,
  };
}

/** The refusal of a signed command of a protocol version outside this agent's range, answered with the ids it names. */
function wrongProtocol(
  decoded: { reason: string; partial: { invocationId?: string; taskId?: string } },
  correlationId: unknown,
): Admission {
  const answer = {
    invocationId: decoded.partial.invocationId ?? idOf(correlationId),
    taskId: decoded.partial.taskId ?? 'unknown',
  };
  return { action: 'reject', code: 'protocol_version', reason: decoded.reason, answer, verified: true };
}

/** The AMQP correlation id as an invocation id, when it can be one. */
function idOf(correlationId: unknown): string {
  return typeof correlationId === 'string' && correlationId.length > 0 && correlationId.length <= MAX_ID
    ? correlationId
    : 'unidentified';
}

/** "replay: …", saying what became of the first copy. */
export function replayReason(seen: Exclude<Seen, null>, out: JournaledOutcome | null): string {
  if (seen === 'running') return 'replay: this invocation is running now; not run again';
  if (seen === 'waiting') return 'replay: this invocation is already queued here; not run again';
  if (!out || out.state === 'lost')
    return 'replay: this invocation was accepted before (outcome unknown: the agent stopped while it ran); not run again';
  if (out.started === false) {
    const when = new Date(out.finishedAt).toISOString();
    return out.state === 'cancelled'
      ? `replay: this invocation was cancelled before it started (${when}); not run`
      : `replay: this invocation was accepted but never started (${out.state}, ${when}); not run`;
  }
  const how = out.exitCode !== null ? `exit ${out.exitCode}` : out.signal ? `signal ${out.signal}` : 'no exit code';
  return `replay: this invocation already ran (${out.state}, ${how}, finished ${new Date(out.finishedAt).toISOString()}); not run again`;
}

/** What to do with a waiting command when a slot frees up. */
export type StartDecision =
  /** journal it, ack it, run it */
  | 'run'
  /** accepted meanwhile (a copy started first): ack, answer `rejected` (replay), never run again */
  | 'duplicate'
  /** its delivery deadline passed while it waited: ack, answer `rejected`, do not run */
  | 'expired';

/** What the start decision needs to know about the agent's state. */
export interface StartContext {
  now: number;
  isRunning(invocationId: string): boolean;
  isJournaled(invocationId: string): boolean;
}

/**
 * Decides whether a waiting command may start. Duplicates are checked before expiry so that a
 * command which did run is reported as a replay rather than as never started.
 */
export function decideStart(c: CommandMessage, ctx: StartContext): StartDecision {
  if (ctx.isRunning(c.invocationId) || ctx.isJournaled(c.invocationId)) return 'duplicate';
  if (ctx.now > c.expiresAt) return 'expired';
  return 'run';
}
