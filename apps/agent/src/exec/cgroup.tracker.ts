import { randomBytes } from 'node:crypto';
import {
  type FSWatcher,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/**
 * The mount point of the cgroup v2 hierarchy in a `/proc/self/mountinfo` text (proc(5): field 5 is
 * the mount point, with spaces escaped as `\040`; the filesystem type follows the ` - ` separator),
 * or null when none is mounted. A hybrid host (cgroup v1 controllers beside it) has it at
 * `/sys/fs/cgroup/unified`; a pure v2 host at `/sys/fs/cgroup`.
 */
export function findCgroup2Mount(mountinfo: string): string | null {
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = before.split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  }
  return null;
}

/** This process's cgroup v2 path (the `0::<path>` line of `/proc/self/cgroup`, cgroups(7)), or null. */
export function ownCgroupPath(procSelfCgroup: string): string | null {
  const line = procSelfCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : null;
}

/** Where to look; tests point these at fixtures. */
export interface CgroupSources {
  mountinfo?: string;
  procSelfCgroup?: string;
}

/** One invocation's cgroup: a directory in the agent's own subtree. */
export class RunCgroup {
  constructor(
    /** absolute path of the cgroup directory */
    readonly path: string,
    private readonly tracker: CgroupTracker,
  ) {}

  /** Moves `pid` into this cgroup (it must not have forked yet for its children to follow); throws on failure. */
  join(pid: number): void {
    writeFileSync(join(this.path, 'cgroup.procs'), `${pid}\n`);
  }

  /** pids of the live processes in it (zombies are not listed in cgroup v2). */
  pids(): number[] {
    return this.read('cgroup.procs')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  }

  /** some live process is in it (`populated 1` in `cgroup.events`) */
  populated(): boolean {
    return /^populated 1$/m.test(this.read('cgroup.events'));
  }

  /**
   * SIGKILLs every process in it, including those forking meanwhile (`cgroup.kill`, Linux ≥ 5.14).
   * Returns whether any process was there.
   */
  kill(): boolean {
    const populated = this.populated();
    try {
      writeFileSync(join(this.path, 'cgroup.kill'), '1');
    } catch {
      // removed already: nothing left in it
    }
    return populated;
  }

  /** The run has ended: remove this cgroup now if empty, else once it empties (see {@link CgroupTracker}). */
  release(): void {
    this.tracker.letGo(this.path);
  }

  private read(file: string): string {
    try {
      return readFileSync(join(this.path, file), 'utf8');
    } catch {
      return ''; // removed: empty
    }
  }
}

/**
 * The agent's cgroup v2 subtree: `<mount><agent's own cgroup>/<name>/`, one child `run-<hex>` per
 * invocation. A cgroup that processes keep alive after their run ended (daemons started with
 * `nohup` or `setsid`, left alone after a normal exit) stays where it is and is removed as soon as
 * its last process exits (inotify on its `cgroup.events`, which the kernel updates when `populated`
 * changes). At start the tracker does the same for what an earlier agent left (empty ones removed,
 * populated ones watched); at close it stops watching and leaves the populated ones to the next start.
 *
 * Creating cgroups in its own cgroup needs write access to it: root, or a delegated subtree
 * (systemd `Delegate=yes`). Processes are moved in by the agent, so a run-as user needs no access.
 */
export class CgroupTracker {
  private readonly watchers = new Map<string, FSWatcher>();

  private constructor(
    /** absolute path of the agent's own directory of run cgroups */
    readonly path: string,
    private readonly log: Logger,
  ) {}

  /**
   * Opens (creating it if needed) the agent's subtree named `name`, or says why it cannot: no cgroup
   * v2 mount, no write access, or a kernel without `cgroup.kill`.
   */
  static open(name: string, log: Logger, sources: CgroupSources = {}): CgroupTracker | { reason: string } {
    const mountinfo = sources.mountinfo ?? readOr('/proc/self/mountinfo');
    const mount = findCgroup2Mount(mountinfo);
    if (!mount) return { reason: 'no cgroup2 filesystem in /proc/self/mountinfo' };
    const own = ownCgroupPath(sources.procSelfCgroup ?? readOr('/proc/self/cgroup'));
    if (own === null) return { reason: 'no cgroup v2 entry in /proc/self/cgroup' };
    const path = join(mount, own, name);
    try {
      mkdirSync(path); // in the agent's own cgroup, which exists: nothing else is created
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        return { reason: `cannot create ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    if (!existsSync(join(path, 'cgroup.kill'))) {
      tryRmdir(path);
      return { reason: `${path} has no cgroup.kill (Linux 5.14 or later is needed)` };
    }
    const tracker = new CgroupTracker(path, log);
    tracker.sweep();
    return tracker;
  }

  /** A new, empty cgroup for one run; null (logged) when it cannot be made, e.g. over `cgroup.max.descendants`. */
  create(): RunCgroup | null {
    const path = join(this.path, `run-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(path);
      return new RunCgroup(path, this);
    } catch (err) {
      this.log.warn({ path, err: (err as Error).message }, 'cannot create a cgroup for a run: using its process group');
      return null;
    }
  }

  /** cgroups still held by processes of ended runs */
  get lingering(): number {
    return this.watchers.size;
  }

  /** Removes `path` once no process is in it: now, or when its `cgroup.events` says it emptied. */
  letGo(path: string): void {
    if (tryRmdir(path) || this.watchers.has(path)) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(join(path, 'cgroup.events'), () => {
        if (tryRmdir(path)) this.stopWatching(path);
      });
    } catch {
      return; // removed meanwhile
    }
    watcher.on('error', () => this.stopWatching(path));
    this.watchers.set(path, watcher);
    if (tryRmdir(path)) this.stopWatching(path); // emptied before the watch began
  }

  /** Stops watching; removes the agent's directory if nothing is left in it. */
  close(): void {
    for (const path of [...this.watchers.keys()]) this.stopWatching(path);
    this.sweep(false);
    tryRmdir(this.path);
  }

  /** Lets go of every run cgroup under the agent's directory (left by an earlier agent, or at close). */
  private sweep(watchBusy = true): void {
    let names: string[];
    try {
      names = readdirSync(this.path, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(this.path, name);
      if (watchBusy) this.letGo(path);
      else tryRmdir(path);
    }
    if (watchBusy && this.watchers.size > 0)
      this.log.info({ path: this.path, lingering: this.watchers.size }, 'cgroups kept alive by earlier runs');
  }

  private stopWatching(path: string): void {
    this.watchers.get(path)?.close();
    this.watchers.delete(path);
  }
}

/** rmdir(2) of a cgroup: true once it is gone, false while processes (or child cgroups) hold it. */
function tryRmdir(path: string): boolean {
  try {
    rmdirSync(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
