import { type ChildProcess, spawn } from 'node:child_process';
import type { AgentResultState } from '@warren/protocol';
import { BoundedCapture, EMPTY_CAPTURE } from './output.capture';
import type { RunHandle, RunOutcome, RunSpec } from './run.types';
import { findPrlimit, findSetpriv, planSpawn, type SpawnPlan, type UserSwitch } from './spawn.plan';

/** Options of {@link ProcessRunner}. */
export interface ProcessRunnerOptions {
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
}

/** ms; the longest SIGTERM→SIGKILL grace used when the agent itself is shutting down. */
const SHUTDOWN_KILL_GRACE_MS = 2_000;

/** ms; after a kill, how often to look whether the group has emptied before its SIGKILL is due. */
const GROUP_POLL_MS = 50;

/** Sends `signal` to every process of group `pgid`; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group (EPERM cannot happen: they are our children)
  }
}

/**
 * Runs commands as `/bin/sh -c <command>`, each as the leader of its own process group, so that a
 * timeout or a shutdown kills everything the command started, background children included:
 * SIGTERM to the group, then SIGKILL to the group after the grace, even if the shell is gone by then.
 *
 * Output is captured per stream up to a cap (see {@link BoundedCapture}); the exit status becomes
 * a state: 0 `succeeded`, non-zero or a foreign signal `failed`, our timeout kill `timed_out`,
 * our shutdown kill `cancelled`, unable to start `error`. A run never throws: every way it can end
 * is an outcome.
 */
export class ProcessRunner {
  private readonly active = new Set<Run>();
  private readonly userSwitch: UserSwitch;

  constructor(private readonly opts: ProcessRunnerOptions) {
    this.userSwitch = {
      setpriv: opts.setpriv === undefined ? findSetpriv() : opts.setpriv,
      prlimit: findPrlimit(),
      agentUid: opts.agentUid ?? process.getuid!(),
    };
  }

  /** Runs that have not ended yet. */
  get running(): number {
    return this.active.size;
  }

  /** Starts `spec` now. */
  start(spec: RunSpec): RunHandle {
    const plan = planSpawn(spec, this.opts.baseEnv, this.userSwitch);
    if ('error' in plan) return neverStarted(plan.error);
    let run: Run;
    try {
      run = new Run(
        spec,
        plan,
        Math.min(spec.maxOutputBytes ?? Infinity, this.opts.maxOutputBytes),
        this.opts.pipeCloseWaitMs ?? 500,
      );
    } catch (err) {
      // spawn throws at once for arguments it cannot pass at all, e.g. a NUL byte in the command or env.
      return neverStarted(`could not start ${plan.file}: ${(err as Error).message}`);
    }
    this.active.add(run);
    void run.outcome.then(() => this.active.delete(run));
    return {
      pid: run.pid,
      startedAt: run.pid === null ? null : run.startedAt,
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

  /** SIGKILLs every group at once, for an agent that must exit now. */
  killAllNow(): void {
    for (const run of this.active) run.kill('cancelled', 'agent killed', 0);
  }
}

function neverStarted(reason: string): RunHandle {
  return { pid: null, startedAt: null, outcome: Promise.resolve(notStarted(reason)), cancel: () => undefined };
}

function notStarted(reason: string): RunOutcome {
  return {
    state: 'error',
    exitCode: null,
    signal: null,
    stdout: EMPTY_CAPTURE,
    stderr: EMPTY_CAPTURE,
    startedAt: null,
    finishedAt: Date.now(),
    durationMs: null,
    reason,
  };
}

/** One child process and its timers, from spawn to outcome. */
class Run {
  readonly pid: number | null;
  readonly outcome: Promise<RunOutcome>;
  private resolve!: (o: RunOutcome) => void;
  private readonly child: ChildProcess;
  readonly startedAt = Date.now();
  private readonly out: BoundedCapture;
  private readonly err: BoundedCapture;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private pipesClosed = false;
  private pipeWaitOver = false;
  /** set once we decided to kill the group: the state and reason it will end with */
  private killing: { state: AgentResultState; reason: string; sigkillSent: boolean } | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private polling = false;
  private done = false;

  constructor(
    readonly spec: RunSpec,
    private readonly plan: SpawnPlan,
    maxOutputBytes: number,
    private readonly pipeCloseWaitMs: number,
  ) {
    this.outcome = new Promise((r) => (this.resolve = r));
    this.out = new BoundedCapture(maxOutputBytes);
    this.err = new BoundedCapture(maxOutputBytes);
    this.child = spawn(plan.file, plan.args, {
      cwd: plan.cwd,
      env: plan.env,
      uid: plan.uid,
      gid: plan.gid,
      // Its own process group (pgid = pid), so the whole tree can be signalled at once.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.pid = this.child.pid ?? null;
    this.child.on('error', (e) => this.onError(e));
    if (this.pid === null) return; // 'error' follows: it never started
    const onOutput = spec.onOutput;
    this.child.stdout!.on('data', (b: Buffer) => {
      const kept = this.out.push(b);
      if (kept && onOutput) onOutput('stdout', kept);
    });
    this.child.stderr!.on('data', (b: Buffer) => {
      const kept = this.err.push(b);
      if (kept && onOutput) onOutput('stderr', kept);
    });
    this.child.stdout!.on('error', () => undefined);
    this.child.stderr!.on('error', () => undefined);
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
    this.child.on('close', () => {
      this.pipesClosed = true;
      this.tryFinish();
    });
    const reason = `killed after ${spec.timeoutMs} ms timeout`;
    this.after(spec.timeoutMs, () => this.kill('timed_out', reason, spec.killGraceMs));
  }

  /**
   * SIGTERM the group now and SIGKILL it after `graceMs` (0 = SIGKILL now, also cutting short a
   * grace already running); the run ends as `state`. The first decision's state and reason stand.
   */
  kill(state: AgentResultState, reason: string, graceMs: number): void {
    if (this.done || this.pid === null || this.exit) return; // ended by itself: its own state stands
    const pid = this.pid;
    const sigkill = () => {
      if (this.killing!.sigkillSent) return;
      this.killing!.sigkillSent = true;
      if (signalGroup(pid, 'SIGKILL'))
        this.spec.onKill?.({
          pid,
          signal: 'SIGKILL',
          state: this.killing!.state,
          reason: this.killing!.reason,
          graceMs: 0,
        });
      this.tryFinish();
    };
    if (!this.killing) {
      this.killing = { state, reason, sigkillSent: false };
      if (graceMs > 0) {
        if (signalGroup(pid, 'SIGTERM')) this.spec.onKill?.({ pid, signal: 'SIGTERM', state, reason, graceMs });
        this.after(graceMs, sigkill);
        return;
      }
    }
    if (graceMs <= 0) sigkill();
  }

  private onError(e: Error): void {
    if (this.pid !== null) return; // e.g. a kill that raced with exit; the exit event decides
    this.finish(notStarted(`could not start ${this.plan.file}: ${e.message}`));
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = { code, signal };
    this.after(this.pipeCloseWaitMs, () => {
      this.pipeWaitOver = true;
      this.tryFinish();
    });
    this.tryFinish();
  }

  private tryFinish(): void {
    if (this.done || !this.exit) return;
    if (!this.pipesClosed && !this.pipeWaitOver) return;
    // After a kill, report only once nothing of the group can survive: its SIGKILL was sent or the group is empty.
    if (this.killing && !this.killing.sigkillSent && signalGroup(this.pid!, 0)) {
      if (!this.polling) {
        this.polling = true;
        this.after(GROUP_POLL_MS, () => {
          this.polling = false;
          this.tryFinish();
        });
      }
      return;
    }
    const { code, signal } = this.exit;
    let state: AgentResultState;
    let reason: string | null = null;
    if (this.killing) {
      state = this.killing.state;
      reason = this.killing.reason;
    } else if (code === 0) {
      state = 'succeeded';
    } else {
      state = 'failed';
      if (signal) reason = `killed by ${signal}`;
    }
    const finishedAt = Date.now();
    this.finish({
      state,
      exitCode: code,
      signal,
      stdout: this.out.result(),
      stderr: this.err.result(),
      startedAt: this.startedAt,
      finishedAt,
      durationMs: finishedAt - this.startedAt,
      reason,
    });
  }

  private finish(outcome: RunOutcome): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // A daemon may still hold the pipes; we stop listening rather than wait for it.
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.resolve(outcome);
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
