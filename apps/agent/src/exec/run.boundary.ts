import { readFileSync } from 'node:fs';
import type { RunCgroup } from './cgroup.tracker';

/**
 * Everything one run started, as the agent reaches it to end it: its cgroup where the agent could
 * make one, else its process group (which a `setsid` or double-forked descendant leaves).
 */
export interface RunBoundary {
  readonly kind: 'cgroup' | 'process-group';
  /** the cgroup's directory; null for a process group */
  readonly cgroup: string | null;
  /** SIGTERM to every process in it, once each; false when none is left */
  terminate(): boolean;
  /** SIGKILL to every process in it; false when none was left */
  kill(): boolean;
  /** some process of it may still be running */
  occupied(): boolean;
  /** the run has ended: let go of what holds it (a cgroup is removed once empty) */
  release(): void;
}

/** Sends `signal` to every process of group `pgid`; false when the group no longer exists. */
function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group (EPERM cannot happen: they are our children)
  }
}

/** The process group led by the run's shell (pgid = its pid). */
export class ProcessGroupBoundary implements RunBoundary {
  readonly kind = 'process-group';
  readonly cgroup = null;
  constructor(private readonly pgid: number) {}
  terminate(): boolean {
    return signalGroup(this.pgid, 'SIGTERM');
  }
  kill(): boolean {
    return signalGroup(this.pgid, 'SIGKILL');
  }
  occupied(): boolean {
    return signalGroup(this.pgid, 0);
  }
  release(): void {}
}

/** The process group of `pid` (field 5 of proc(5)'s `/proc/<pid>/stat`); null when it is gone. */
function pgidOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid pgrp …; comm may hold spaces, so split after its closing paren.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}

/**
 * The run's own cgroup v2, which every descendant is born into, `setsid` or not. SIGTERM goes to
 * the process group first (one kill(2) for the usual tree), then to each other process listed in
 * `cgroup.procs`; a process forked between that read and its signal misses the SIGTERM, and gets
 * the SIGKILL of `cgroup.kill`, which no fork escapes.
 */
export class CgroupBoundary implements RunBoundary {
  readonly kind = 'cgroup';
  constructor(
    private readonly group: RunCgroup,
    private readonly pgid: number,
  ) {}
  get cgroup(): string {
    return this.group.path;
  }
  terminate(): boolean {
    let any = signalGroup(this.pgid, 'SIGTERM');
    for (const pid of this.group.pids()) {
      if (pgidOf(pid) === this.pgid) continue; // had it already
      try {
        process.kill(pid, 'SIGTERM');
        any = true;
      } catch {
        // exited meanwhile
      }
    }
    return any;
  }
  kill(): boolean {
    return this.group.kill();
  }
  occupied(): boolean {
    return this.group.populated();
  }
  release(): void {
    this.group.release();
  }
}
