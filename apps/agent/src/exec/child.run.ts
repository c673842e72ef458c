import { type ChildProcess, spawn } from 'node:child_process';
import type { AgentResultState } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import { BoundedCapture, EMPTY_CAPTURE } from './output.capture';
import type { RunOutcome, RunSpec } from './run.types';
import type { SpawnPlan } from './spawn.plan';

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

/** Spawns `plan` as the leader of its own process group (pgid = pid), so the whole tree can be signalled at once. */
function spawnGroupLeader(plan: SpawnPlan): ChildProcess {
  return spawn(plan.file, plan.args, {
    cwd: plan.cwd,
    env: plan.env,
    uid: plan.uid,
    gid: plan.gid,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
    private readonly clock: Clock,
  ) {
    this.outcome = new Promise((r) => (this.resolve = r));
    this.startedAt = clock.now();
    this.out = new BoundedCapture(maxOutputBytes);
    this.err = new BoundedCapture(maxOutputBytes);
    this.child = spawnGroupLeader(plan);
    this.pid = this.child.pid ?? null;
    this.child.on('error', (e) => this.onError(e));
    if (this.pid === null) return; // 'error' follows: it never started
    this.capture();
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
    this.child.on('close', () => {
      this.pipesClosed = true;
      this.tryFinish();
    });
    const reason = `killed after ${spec.timeoutMs} ms timeout`;
    this.after(spec.timeoutMs, () => this.kill('timed_out', reason, spec.killGraceMs));
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
    if (this.groupMaySurvive()) return;
    this.finish(this.outcomeOfExit(this.exit));
  }

  /**
   * After a kill, a run is reported only once nothing of its group can survive: its SIGKILL was
   * sent or the group is empty. Until then, looks again every {@link GROUP_POLL_MS}.
   */
  private groupMaySurvive(): boolean {
    if (!this.killing || this.killing.sigkillSent || !signalGroup(this.pid!, 0)) return false;
    if (!this.polling) {
      this.polling = true;
      this.after(GROUP_POLL_MS, () => {
        this.polling = false;
        this.tryFinish();
      });
    }
    return true;
  }

  /** The state of an exited run: our kill's, else 0 `succeeded`, else `failed`. */
  private outcomeOfExit({ code, signal }: { code: number | null; signal: NodeJS.Signals | null }): RunOutcome {
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
    const finishedAt = this.clock.now();
    return {
      state,
      exitCode: code,
      signal,
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
