import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { AgentResultState } from '@warren/protocol';

/** How the leader of a run ended, as `waitpid(2)` reported it to Node's `exit` event. */
export interface ExitStatus {
  /** exit status when it exited; null when a signal ended it */
  code: number | null;
  /** the signal that ended it; null when it exited */
  signal: NodeJS.Signals | null;
}

/** One signal the agent sent to a run, and whether its leader had a handler for it at that moment. */
export interface SentSignal {
  signal: 'SIGTERM' | 'SIGKILL';
  /** the leader caught this signal (a shell `trap`), so it may have exited with a status in answer to it */
  caught: boolean;
}

/** The agent's decision to end a run, and the signals it has sent for it so far. */
export interface KillDecision {
  /** the state the run ends with if those signals end it: `timed_out` or `cancelled` */
  state: AgentResultState;
  /** e.g. `killed after 200 ms timeout`, `cancelled by alice` */
  reason: string;
  sent: SentSignal[];
}

/**
 * The state of a run whose leader has ended. A process that ended by itself is `succeeded` (exit 0)
 * or `failed` (another status, or a signal the agent did not send), even when the agent decided to
 * kill it a moment later; `timed_out`/`cancelled` only when the agent's signal ended it:
 * - the leader died of a signal the agent sent (the result's `signal` names it), or
 * - the leader caught a SIGTERM the agent sent and then exited (the reason names the signal).
 *
 * A leader that did not catch SIGTERM and still exited with a status was gone before the signal
 * arrived (an uncaught SIGTERM or any SIGKILL ends a process by that signal): that is the race this
 * rule closes, where a timer fired just as the command finished.
 */
export function decideExit(
  exit: ExitStatus,
  kill: KillDecision | null,
): { state: AgentResultState; reason: string | null } {
  if (kill) {
    if (exit.signal !== null && kill.sent.some((s) => s.signal === exit.signal))
      return { state: kill.state, reason: kill.reason };
    const caught = kill.sent.find((s) => s.caught);
    if (exit.signal === null && caught)
      return { state: kill.state, reason: `${kill.reason} (it exited ${exit.code} on ${caught.signal})` };
  }
  if (exit.code === 0) return { state: 'succeeded', reason: null };
  return { state: 'failed', reason: exit.signal ? `killed by ${exit.signal}` : null };
}

/** What `/proc/<pid>/status` says of a child the agent has not reaped yet. */
export interface LeaderStatus {
  /** it has exited (a zombie): its exit status is on its way to Node's `exit` event */
  exited: boolean;
  /** signals it has a handler for (`SigCgt`) */
  catches(signal: NodeJS.Signals): boolean;
}

/**
 * Reads the state and caught-signal mask of `pid` (proc(5): `State:` and `SigCgt:`, a hex mask with
 * bit n-1 for signal n). The pid cannot be reused meanwhile: the agent has not reaped it. Where
 * /proc cannot be read, it is taken as running and catching nothing.
 */
export function readLeaderStatus(pid: number): LeaderStatus {
  let status = '';
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    // gone or no /proc: the exit event decides
  }
  const state = /^State:\s*(\S)/m.exec(status)?.[1];
  const caught = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)/m.exec(status)?.[1] ?? '0'}`);
  return {
    exited: state === 'Z' || state === 'X',
    catches: (signal) => ((caught >> BigInt(constants.signals[signal] - 1)) & 1n) === 1n,
  };
}
