import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { AgentResultState } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { CgroupTracker, RunCgroup } from './cgroup.tracker';
import { decideExit, type ExitStatus, type KillDecision, readLeaderStatus } from './exit.decision';
import { BoundedCapture, EMPTY_CAPTURE } from './output.capture';
import { CgroupBoundary, ProcessGroupBoundary, type RunBoundary } from './run.boundary';
import type { RunOutcome, RunSpec } from './run.types';
import type { SpawnPlan } from './spawn.plan';

/** ms; after a kill, how often to look whether the group has emptied before its SIGKILL is due. */
const GROUP_POLL_MS = 50;

/**
 * A shell that waits, on stdin, for the agent to have moved it into its cgroup, then execs the plan
 * with stdin from /dev/null. Until `go` arrives it has forked nothing, so every process the command
 * ever starts is born in the cgroup. Without `go` (the agent died first) it exits 125, running nothing.
 */
const GATE = 'IFS= read -r go && [ "$go" = go ] && exec "$@" </dev/null; exit 125';

/** {@link GATE} for a run with a stdin file: the file waits as fd 3 and becomes fd 0 at the exec. */
const GATE_STDIN = 'IFS= read -r go && [ "$go" = go ] && exec "$@" <&3 3<&-; exit 125';

/**
 * Spawns `plan` as the leader of its own process group (pgid = pid), so the whole tree can be
 * signalled at once; `gated`, behind {@link GATE} in the same process (exec keeps the pid). With
 * `stdinFd` (an fd the agent opened read-only) the command reads it as its standard input; else
 * its stdin is /dev/null.
 */
function spawnGroupLeader(plan: SpawnPlan, gated: boolean, stdinFd: number | null): ChildProcess {
  const gate = stdinFd === null ? GATE : GATE_STDIN;
  const [file, args] = gated
    ? ['/bin/sh', ['-c', gate, 'warren-run', plan.file, ...plan.args]]
    : [plan.file, plan.args];
  const stdio: ('pipe' | 'ignore' | number)[] = gated
    ? ['pipe', 'pipe', 'pipe', ...(stdinFd === null ? [] : [stdinFd])]
    : [stdinFd ?? 'ignore', 'pipe', 'pipe'];
  return spawn(file, args, {
    cwd: plan.cwd,
    env: plan.env,
    uid: plan.uid,
    gid: plan.gid,
    detached: true,
    stdio,
  });
}

/** Where a run's processes are tracked: a tracker for per-run cgroups, or null for process groups only. */
export interface RunTracking {
  cgroups: CgroupTracker | null;
  log: Logger | null;
}

/** The outcome of a run that never started: `error`, with why. */
export function notStarted(reason: string, finishedAt: number): RunOutcome {
  return {
    state: 'error',
    exitCode: null,
    signal: null,
    stdout: EMPTY_CAPTURE,
    stderr: EMPTY_CAPTURE,
    startedAt: null,
    finishedAt,
    durationMs: null,
    reason,
  };
}

/** One child process and its timers, from spawn to outcome. */
export class Run {
  readonly pid: number | null;
  readonly outcome: Promise<RunOutcome>;
  private resolve!: (o: RunOutcome) => void;
  private readonly child: ChildProcess;
  /** ms since the epoch, by the runner's clock */
  readonly startedAt: number;
  private readonly out: BoundedCapture;
  private readonly err: BoundedCapture;
  /** what the agent signals to end the run; null when it never started */
  readonly boundary: RunBoundary | null = null;
  private exit: ExitStatus | null = null;
  private pipesClosed = false;
  private pipeWaitOver = false;
  /** set once we decided to kill the run: the state and reason it ends with if our signals end it */
  private killing: KillDecision | null = null;
  private sigkillSent = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private polling = false;
  private done = false;

  constructor(
    readonly spec: RunSpec,
    private readonly plan: SpawnPlan,
    maxOutputBytes: number,
    private readonly pipeCloseWaitMs: number,
    private readonly clock: Clock,
    tracking: RunTracking = { cgroups: null, log: null },
  ) {
    this.outcome = new Promise((r) => (this.resolve = r));
    this.startedAt = clock.now();
    this.out = new BoundedCapture(maxOutputBytes);
    this.err = new BoundedCapture(maxOutputBytes);
    const cgroup = tracking.cgroups?.create() ?? null;
    // The agent opens the stdin file: the run-as user needs no access to the agent's state dir.
    let stdinFd: number | null = null;
    try {
      if (spec.stdinPath) stdinFd = openSync(spec.stdinPath, 'r');
      this.child = spawnGroupLeader(plan, cgroup !== null, stdinFd);
    } catch (err) {
      cgroup?.release();
      throw err;
    } finally {
      if (stdinFd !== null) closeSync(stdinFd); // the child has its own copy
    }
    this.pid = this.child.pid ?? null;
    this.child.on('error', (e) => this.onError(e));
    if (this.pid === null) {
      cgroup?.release();
      return; // 'error' follows: it never started
    }
    this.boundary = this.enter(cgroup, tracking.log);
    this.capture();
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
    this.child.on('close', () => {
      this.pipesClosed = true;
      this.tryFinish();
    });
    const reason = `killed after ${spec.timeoutMs} ms timeout`;
    this.after(spec.timeoutMs, () => this.kill('timed_out', reason, spec.killGraceMs));
  }

  /** Moves the gated child into `cgroup` and lets it run; its process group alone when that fails. */
  private enter(cgroup: RunCgroup | null, log: Logger | null): RunBoundary {
    const pid = this.pid!;
    if (!cgroup) return new ProcessGroupBoundary(pid);
    let boundary: RunBoundary;
    try {
      cgroup.join(pid);
      boundary = new CgroupBoundary(cgroup, pid);
    } catch (err) {
      log?.warn(
        { pid, path: cgroup.path, err: (err as Error).message },
        'cannot move a run into its cgroup: using its process group',
      );
      cgroup.release();
      boundary = new ProcessGroupBoundary(pid);
    }
    this.child.stdin!.on('error', () => undefined); // EPIPE if it died before reading
    this.child.stdin!.end('go\n');
    return boundary;
  }

  /** Keeps each stream up to its cap, handing what was kept to `spec.onOutput` as it comes. */
  private capture(): void {
    const onOutput = this.spec.onOutput;
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
  }

  /**
   * SIGTERM everything the run started now and SIGKILL it after `graceMs` (0 = SIGKILL now, also
   * cutting short a grace already running). The run ends as `state` only if those signals end its
   * shell (see {@link decideExit}); a shell that has already exited by itself is left to its own
   * state, and what it left running is not touched. The first decision's state and reason stand.
   */
  kill(state: AgentResultState, reason: string, graceMs: number): void {
    if (this.done || !this.boundary || this.exit) return; // ended by itself: its own state stands
    if (!this.killing) {
      const leader = readLeaderStatus(this.pid!);
      if (leader.exited) return; // exited, not yet reaped: the exit event is on its way
      this.killing = { state, reason, sent: [] };
      if (graceMs > 0) {
        if (this.boundary.terminate()) {
          this.killing.sent.push({ signal: 'SIGTERM', caught: leader.catches('SIGTERM') });
          this.spec.onKill?.({
            pid: this.pid!,
            signal: 'SIGTERM',
            state,
            reason,
            graceMs,
            cgroup: this.boundary.cgroup,
          });
        }
        this.after(graceMs, () => this.sigkill());
        return;
      }
    }
    if (graceMs <= 0) this.sigkill();
  }

  private sigkill(): void {
    const k = this.killing!;
    if (this.sigkillSent) return;
    this.sigkillSent = true;
    k.sent.push({ signal: 'SIGKILL', caught: false });
    if (this.boundary!.kill())
      this.spec.onKill?.({
        pid: this.pid!,
        signal: 'SIGKILL',
        state: k.state,
        reason: k.reason,
        graceMs: 0,
        cgroup: this.boundary!.cgroup,
      });
    this.tryFinish();
  }

  private onError(e: Error): void {
    if (this.pid !== null) return; // e.g. a kill that raced with exit; the exit event decides
    this.finish(notStarted(`could not start ${this.plan.file}: ${e.message}`, this.clock.now()));
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
    if (this.mayStillRun()) return;
    this.finish(this.outcomeOfExit(this.exit));
  }

  /**
   * After a kill, a run is reported only once nothing it started can survive: its SIGKILL was sent
   * or its group (cgroup) is empty. Until then, looks again every {@link GROUP_POLL_MS}.
   */
  private mayStillRun(): boolean {
    if (!this.killing || this.sigkillSent || !this.boundary!.occupied()) return false;
    if (!this.polling) {
      this.polling = true;
      this.after(GROUP_POLL_MS, () => {
        this.polling = false;
        this.tryFinish();
      });
    }
    return true;
  }

  /** The outcome of an exited run, its state decided by how it ended ({@link decideExit}). */
  private outcomeOfExit(exit: ExitStatus): RunOutcome {
    const { state, reason } = decideExit(exit, this.killing);
    const finishedAt = this.clock.now();
    return {
      state,
      exitCode: exit.code,
      signal: exit.signal,
      stdout: this.out.result(),
      stderr: this.err.result(),
      startedAt: this.startedAt,
      finishedAt,
      durationMs: finishedAt - this.startedAt,
      reason,
    };
  }

  private finish(outcome: RunOutcome): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // A daemon may still hold the pipes; we stop listening rather than wait for it.
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.boundary?.release();
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
