import type { InvocationOutcome } from '@warren/protocol';

/** What to run: the execution part of a command message. */
export interface RunSpec {
  /** run as `/bin/sh -c <command>` */
  command: string;
  /** working directory; null = the agent's own */
  cwd: string | null;
  /** laid over the agent's base environment */
  env: Record<string, string>;
  /** ms; the whole process group gets SIGTERM after this */
  timeoutMs: number;
  /** ms; between that SIGTERM and the SIGKILL of the group */
  killGraceMs: number;
}

/** How one run ended: everything a `result` message reports, minus the ids. */
export type RunOutcome = InvocationOutcome;

/** A run in progress. */
export interface RunHandle {
  /** pid of the `/bin/sh` leading the process group (= its pgid); null when it could not start */
  pid: number | null;
  /** ms since epoch, when it was spawned; null when it could not start */
  startedAt: number | null;
  /** resolves once (never rejects) when the run has ended and its pipes are closed */
  outcome: Promise<RunOutcome>;
}
