import type { CommandMessage, Decoded } from '@warren/protocol';

/** What to do with a delivery the moment it arrives. */
export type Admission =
  | { action: 'queue'; command: CommandMessage }
  | {
      action: 'reject';
      /** one line, for the log and the `rejected` reply */
      reason: string;
      /** whom to answer with a `rejected` result; null when the message names nobody */
      answer: { invocationId: string; taskId: string } | null;
    };

/**
 * Admits a decoded delivery: a valid command for this host waits for a slot (still unacked);
 * anything else is rejected, answered when the ids could be read.
 */
export function admit(decoded: Decoded<CommandMessage>, ownHost: string): Admission {
  if (!decoded.ok) {
    const { invocationId, taskId } = decoded.partial;
    // Without an invocation id the controller could not match an answer; a missing task id is filled in.
    return { action: 'reject', reason: decoded.reason, answer: invocationId ? { invocationId, taskId: taskId || 'unknown' } : null };
  }
  const c = decoded.message;
  if (c.host !== ownHost) return { action: 'reject', reason: `command is for host ${c.host}`, answer: { invocationId: c.invocationId, taskId: c.taskId } };
  return { action: 'queue', command: c };
}

/** What to do with a waiting command when a slot frees up. */
export type StartDecision =
  /** journal it, ack it, run it */
  | 'run'
  /** the same invocation is running here now (a redelivery raced with it): ack and stay silent, its result will come */
  | 'running'
  /** accepted before, by this run or an earlier one: ack, answer `rejected`, never run again */
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
 * command which did run is reported as a duplicate rather than as never started.
 */
export function decideStart(c: CommandMessage, ctx: StartContext): StartDecision {
  if (ctx.isRunning(c.invocationId)) return 'running';
  if (ctx.isJournaled(c.invocationId)) return 'duplicate';
  if (ctx.now > c.expiresAt) return 'expired';
  return 'run';
}
