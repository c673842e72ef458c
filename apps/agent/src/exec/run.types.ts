import type { InvocationOutcome, ResultFile } from '@warren/protocol';

/** The account a command runs as, as the policy resolved it (a `PolicyGrant` fits). */
export interface RunAsUser {
  /** login name: the command's USER and LOGNAME */
  user: string;
  uid: number;
  gid: number;
  /** the command's HOME, and its cwd when the spec gives none (`/` if it does not exist) */
  home: string;
}

/** What to run: the execution part of a command message. */
export interface RunSpec {
  /** run as `/bin/sh -c <command>` */
  command: string;
  /** working directory; null = the run-as user's home (without `runAs`: the agent's own cwd) */
  cwd: string | null;
  /** laid over the agent's base environment */
  env: Record<string, string>;
  /** ms; everything the command started (its cgroup, else its process group) gets SIGTERM after this */
  timeoutMs: number;
  /** ms; between that SIGTERM and the SIGKILL of everything it started */
  killGraceMs: number;
  /**
   * who to run it as; absent or null = the agent's own user, with its environment and cwd. When
   * this is another uid the agent must be root. HOME, USER and LOGNAME are always this user's.
   */
  runAs?: RunAsUser | null;
  /** bytes of stdout, and of stderr, kept; default and ceiling: the runner's `maxOutputBytes` */
  maxOutputBytes?: number;
  /**
   * a file the command reads as its standard input (opened read-only by the agent, so the run-as
   * user needs no access to it); absent = /dev/null
   */
  stdinPath?: string;
  /** RLIMIT_NPROC for the command (set through prlimit(1)); absent or null = none */
  maxProcesses?: number | null;
  /**
   * Hears each piece of output as it is captured, for live streaming: only what the capture
   * keeps (nothing past the cap), in the order it was read, all of it before the outcome resolves.
   * Must not throw.
   */
  onOutput?: (stream: 'stdout' | 'stderr', bytes: Buffer) => void;
  /**
   * Hears each signal sent to what the command started (SIGTERM at a timeout or cancel, SIGKILL
   * after the grace), so that every kill is one structured log line. Must not throw.
   */
  onKill?: (kill: {
    /** the shell's pid, which leads the process group */
    pid: number;
    signal: 'SIGTERM' | 'SIGKILL';
    state: string;
    reason: string;
    graceMs: number;
    /** the run's cgroup directory, whose every process got the signal; null: its process group did */
    cgroup: string | null;
  }) => void;
}

/**
 * How one run ended: everything a `result` message reports, minus the ids; `file` for a put, a get
 * or a command given a stdin file.
 */
export type RunOutcome = InvocationOutcome & { file?: ResultFile };

/** A run in progress. */
export interface RunHandle {
  /** pid of the `/bin/sh` leading the process group (= its pgid); null when it could not start */
  pid: number | null;
  /** ms since epoch, when it was spawned; null when it could not start */
  startedAt: number | null;
  /** the run's own cgroup directory; null when it runs in its process group only, or never started */
  cgroup: string | null;
  /** resolves once (never rejects) when the run has ended and its pipes are closed */
  outcome: Promise<RunOutcome>;
  /**
   * Kills everything the run started (its cgroup, else its process group: SIGTERM, SIGKILL after
   * the run's kill grace); the run ends `cancelled` with `reason` if that ends its shell. No effect
   * once it has ended (its shell exited by itself) or could not start.
   */
  cancel(reason: string): void;
}
