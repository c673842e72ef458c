import { createHistogram, performance } from 'node:perf_hooks';
import { type Clock, SystemClock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { CgroupTracker } from './cgroup.tracker';
import { notStarted, Run } from './child.run';
import type { RunHandle, RunSpec } from './run.types';
import { findPrlimit, findSetpriv, planSpawn, type UserSwitch } from './spawn.plan';

/** Options of {@link ProcessRunner}. */
export interface ProcessRunnerOptions {
  /**
   * called with the number of commands running each time it changes, from just before a spawn
   * (counting the one being started) to its exit (the agent's loop-delay sampling)
   */
  onRunningChange?: (count: number) => void;
  /** environment every command starts from (the agent's own minus WARREN_*) */
  baseEnv: Readonly<Record<string, string>>;
  /** bytes of stdout, and separately of stderr, kept per run (a spec may ask for less) */
  maxOutputBytes: number;
  /**
   * setpriv(1), used to run as another user with that user's supplementary groups; null = Node's
   * uid/gid switch, which leaves the command no supplementary groups. Default: the host's, if any.
   */
  setpriv?: string | null;
  /** uid of the agent process; default `process.getuid()` */
  agentUid?: number;
  /**
   * ms to wait, after the shell exits, for its stdout/stderr to close. A command that leaves a
   * daemon holding them open must still get a result; its output after this is not captured.
   */
  pipeCloseWaitMs?: number;
  /** where start and finish times are read; default the system clock */
  clock?: Clock;
  /**
   * the agent's cgroup subtree: each run gets its own cgroup there, which timeout and cancel kill
   * whole; null or absent = each run's process group only (see docs/process-tracking.md)
   */
  cgroups?: CgroupTracker | null;
  /** hears why a run could not get a cgroup; default none */
  log?: Logger | null;
  /** without `cgroups`: why not, for {@link ProcessRunner.tracking} */
  trackingNote?: string;
}

/** Which boundary the runner kills, for the agent's start log: `{ processTracking, path | reason }`. */
export type ProcessTrackingInfo =
  { processTracking: 'cgroup'; path: string } | { processTracking: 'process-group'; reason: string };

/** How long {@link ProcessRunner.start} held the event loop (mostly the fork/exec), in ms with 2 decimals. */
export interface StartTimes {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** ms; the longest SIGTERM→SIGKILL grace used when the agent itself is shutting down. */
const SHUTDOWN_KILL_GRACE_MS = 2_000;

/**
 * Runs commands as `/bin/sh -c <command>`, each as the leader of its own process group and, given
 * a {@link CgroupTracker}, in its own cgroup, so that a timeout or a cancel kills everything the
 * command started: SIGTERM to all, then SIGKILL to all after the grace (`cgroup.kill`, which also
 * reaches `setsid` and double-forked descendants; without a cgroup, the process group, which they
 * leave). A command whose shell exits by itself is not killed: what it left running stays.
 *
 * Output is captured per stream up to a cap (see {@link BoundedCapture}); how the shell ended
 * becomes a state: 0 `succeeded`, non-zero or a foreign signal `failed`, ended by our timeout kill
 * `timed_out`, by our cancel or shutdown kill `cancelled`, unable to start `error`. A run never
 * throws: every way it can end is an outcome.
 */
export class ProcessRunner {
  private readonly active = new Set<Run>();
  private readonly userSwitch: UserSwitch;
  private readonly clock: Clock;
  /** µs each {@link start} took, synchronously */
  private readonly startUs = createHistogram();

  constructor(private readonly opts: ProcessRunnerOptions) {
    this.clock = opts.clock ?? new SystemClock();
    this.userSwitch = {
      setpriv: opts.setpriv === undefined ? findSetpriv() : opts.setpriv,
      prlimit: findPrlimit(),
      agentUid: opts.agentUid ?? process.getuid!(),
    };
  }

  /** Which boundary runs are killed by, and where (or why no cgroup). */
  get tracking(): ProcessTrackingInfo {
    const c = this.opts.cgroups;
    return c
      ? { processTracking: 'cgroup', path: c.path }
      : { processTracking: 'process-group', reason: this.opts.trackingNote ?? 'no cgroup tracker given' };
  }

  /** Runs that have not ended yet. */
  get running(): number {
    return this.active.size;
  }

  /** How long each {@link start} blocked the event loop, since the runner was made. */
  get startTimes(): StartTimes {
    const h = this.startUs;
    const ms = (us: number) => Math.round(us / 10) / 100;
    if (h.count === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
    return { count: h.count, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  }

  /** Starts `spec` now. */
  start(spec: RunSpec): RunHandle {
    // Counted as running from before the fork, so that what the fork costs the loop is measured.
    this.opts.onRunningChange?.(this.active.size + 1);
    const t0 = performance.now();
    try {
      return this.startNow(spec);
    } finally {
      this.startUs.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      this.opts.onRunningChange?.(this.active.size);
    }
  }

  private startNow(spec: RunSpec): RunHandle {
    const plan = planSpawn(spec, this.opts.baseEnv, this.userSwitch);
    if ('error' in plan) return this.neverStarted(plan.error);
    let run: Run;
    try {
      run = new Run(
        spec,
        plan,
        Math.min(spec.maxOutputBytes ?? Infinity, this.opts.maxOutputBytes),
        this.opts.pipeCloseWaitMs ?? 500,
        this.clock,
        { cgroups: this.opts.cgroups ?? null, log: this.opts.log ?? null },
      );
    } catch (err) {
      // spawn throws at once for arguments it cannot pass at all, e.g. a NUL byte in the command or env.
      return this.neverStarted(`could not start ${plan.file}: ${(err as Error).message}`);
    }
    this.active.add(run);
    void run.outcome.then(() => {
      this.active.delete(run);
      this.opts.onRunningChange?.(this.active.size);
    });
    return {
      pid: run.pid,
      startedAt: run.pid === null ? null : run.startedAt,
      cgroup: run.boundary?.cgroup ?? null,
      outcome: run.outcome,
      cancel: (reason) => run.kill('cancelled', reason, run.spec.killGraceMs),
    };
  }

  /**
   * Kills every run still going (SIGTERM to its group, SIGKILL after its grace, at most 2 s);
   * they end as `cancelled` with `reason`. Resolves once all have ended.
   */
  async killAll(reason: string): Promise<void> {
    const runs = [...this.active];
    for (const run of runs) run.kill('cancelled', reason, Math.min(run.spec.killGraceMs, SHUTDOWN_KILL_GRACE_MS));
    await Promise.all(runs.map((r) => r.outcome));
  }

  /** SIGKILLs everything every run started, at once, for an agent that must exit now. */
  killAllNow(): void {
    for (const run of this.active) run.kill('cancelled', 'agent killed', 0);
  }

  /**
   * After the last run: stops watching the cgroups that daemons keep alive (the next start takes
   * them over) and removes the agent's cgroup directory if it is empty.
   */
  close(): void {
    this.opts.cgroups?.close();
  }

  private neverStarted(reason: string): RunHandle {
    const outcome = Promise.resolve(notStarted(reason, this.clock.now()));
    return { pid: null, startedAt: null, cgroup: null, outcome, cancel: () => undefined };
  }
}
