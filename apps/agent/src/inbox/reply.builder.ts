import {
  captureBytes,
  encode,
  encodeCapture,
  LIMITS,
  type OutputCapture,
  PROTOCOL_VERSION,
  type RejectCode,
  type ResultMessage,
  type StartedMessage,
} from '@warren/protocol';
import { EMPTY_CAPTURE } from '../exec/output.capture';
import type { RunOutcome } from '../exec/run.types';

/** Who a reply is about. */
export interface ReplyIds {
  invocationId: string;
  taskId: string;
  host: string;
}

/** `started`: the command was journaled and acked, and is about to be spawned (`pid` null) or was, as process group `pid`. */
export function startedMessage(ids: ReplyIds, startedAt: number, pid: number | null): StartedMessage {
  return { v: PROTOCOL_VERSION, kind: 'started', ...pick(ids), startedAt, pid };
}

/** The `result` of a run (with its `file` for a transfer or stdin), cut down if need be to fit a reply (see {@link fitReply}). */
export function resultMessage(ids: ReplyIds, o: RunOutcome): ResultMessage {
  return fitReply({
    v: PROTOCOL_VERSION,
    kind: 'result',
    ...pick(ids),
    state: o.state,
    exitCode: o.exitCode,
    signal: o.signal,
    stdout: o.stdout,
    stderr: o.stderr,
    startedAt: o.startedAt,
    finishedAt: o.finishedAt,
    durationMs: o.durationMs,
    reason: o.reason,
    ...(o.file && { file: o.file }),
  });
}

/** A terminal result for a command that never ran: `rejected` (refused) or `error` (could not start). */
export function refusedMessage(
  ids: ReplyIds,
  state: 'rejected' | 'error' | 'cancelled',
  reason: string,
  /** ms since the epoch: its `finishedAt` */
  now: number,
  code?: RejectCode,
): ResultMessage {
  const msg = resultMessage(ids, {
    state,
    exitCode: null,
    signal: null,
    stdout: EMPTY_CAPTURE,
    stderr: EMPTY_CAPTURE,
    startedAt: null,
    finishedAt: now,
    durationMs: null,
    reason: reason.slice(0, 4096),
  });
  return code ? { ...msg, code } : msg;
}

/**
 * The routing key for replies to a command: its `reply_to` when that is a plausible name
 * (a non-empty string of at most 255 characters, the AMQP limit), else null.
 */
export function replyRoute(replyTo: unknown): string | null {
  return typeof replyTo === 'string' && replyTo.length > 0 && replyTo.length <= 255 ? replyTo : null;
}

/**
 * Shrinks a result whose encoding exceeds the reply limit, halving the longer output until it fits
 * (`bytes` keeps the true total, so it reads truncated). A capture costs at most the base64 of its
 * bytes on the wire, so at the agent's cap this never happens (see `LIMITS.maxReplyMessageBytes`):
 * it is the guard should a cap and the limit ever disagree.
 */
export function fitReply(msg: ResultMessage, limit: number = LIMITS.maxReplyMessageBytes): ResultMessage {
  let m = msg;
  while (encode(m).length > limit) {
    const key = m.stdout.data.length >= m.stderr.data.length ? 'stdout' : 'stderr';
    if (m[key].data.length === 0) break;
    m = { ...m, [key]: halve(m[key]) };
  }
  return m;
}

/** The first half of a capture's kept bytes, exactly (a character cut in two keeps its first bytes, as at the cap). */
function halve(c: OutputCapture): OutputCapture {
  const bytes = captureBytes(c);
  return encodeCapture(bytes.subarray(0, Math.floor(bytes.length / 2)), c.bytes);
}

const pick = ({ invocationId, taskId, host }: ReplyIds): ReplyIds => ({ invocationId, taskId, host });
