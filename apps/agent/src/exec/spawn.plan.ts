import { accessSync, constants, statSync } from 'node:fs';
import type { RunSpec } from './run.types';

/** How to switch users, decided once per runner. */
export interface UserSwitch {
  /** path of setpriv(1); null = Node's own uid/gid switch */
  setpriv: string | null;
  /** path of prlimit(1), to cap a command's processes; null = none on this host */
  prlimit?: string | null;
  /** uid of the agent process */
  agentUid: number;
}

/** Exactly what to spawn for one run. */
export interface SpawnPlan {
  file: string;
  args: string[];
  cwd: string | undefined;
  env: Record<string, string>;
  /** set only when Node itself switches users (no setpriv) */
  uid?: number;
  gid?: number;
}

/** Where util-linux installs setpriv (Debian, Ubuntu, RHEL, Alpine's util-linux). */
const SETPRIV_PATHS = ['/usr/bin/setpriv', '/bin/setpriv'];

/** The prlimit binary of this host (util-linux), or null. */
export function findPrlimit(): string | null {
  for (const path of ['/usr/bin/prlimit', '/bin/prlimit']) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

/** The setpriv binary of this host, or null when it has none. */
export function findSetpriv(): string | null {
  for (const path of SETPRIV_PATHS) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // try the next one
    }
  }
  return null;
}

/**
 * Turns a spec into a spawn: `/bin/sh -c <command>`, run as `spec.runAs` when that is another uid.
 * Node can set the child's uid and gid but not its supplementary groups (libuv clears them), so a
 * user in `docker` or `adm` would lose those; `setpriv --reuid --regid --init-groups` sets all
 * three from the user database and then execs the shell in the same process, which keeps the pid
 * and the process group the runner kills. Returns a reason instead when it cannot be run.
 */
export function planSpawn(
  spec: RunSpec,
  baseEnv: Readonly<Record<string, string>>,
  sw: UserSwitch,
): SpawnPlan | { error: string } {
  const plan = planUser(spec, baseEnv, sw);
  if ('error' in plan || !spec.maxProcesses) return plan;
  // prlimit sets RLIMIT_NPROC on itself and execs the rest (setpriv, then the shell): one process,
  // the same pid and process group, and every descendant inherits the limit.
  if (!sw.prlimit) return { error: 'the policy sets maxProcesses, but this host has no prlimit (util-linux)' };
  // When prlimit runs as root ahead of setpriv, it gets setpriv's (envelope-free) environment.
  return {
    ...plan,
    file: sw.prlimit,
    args: [`--nproc=${spec.maxProcesses}:${spec.maxProcesses}`, '--', plan.file, ...plan.args],
  };
}

function planUser(
  spec: RunSpec,
  baseEnv: Readonly<Record<string, string>>,
  sw: UserSwitch,
): SpawnPlan | { error: string } {
  const as = spec.runAs ?? null;
  let cwd: string | undefined;
  if (spec.cwd !== null) {
    if (!isDirectory(spec.cwd)) return { error: `cwd ${spec.cwd} does not exist or is not a directory` };
    cwd = spec.cwd;
  } else if (as) {
    // Like a login: the user's home, or / when it has none (nobody's is /nonexistent).
    cwd = isDirectory(as.home) ? as.home : '/';
  }
  // The identity variables win over the envelope's env: a command cannot be told it is someone else.
  const identity: Record<string, string> = as ? { HOME: as.home, USER: as.user, LOGNAME: as.user } : {};
  const env = { ...baseEnv, ...spec.env, ...identity };
  const shell = ['-c', spec.command];
  if (!as || as.uid === sw.agentUid) return { file: '/bin/sh', args: shell, cwd, env };
  if (sw.agentUid !== 0) return { error: `cannot run as ${as.user}: the agent is not root` };
  if (sw.setpriv) {
    // setpriv (and prlimit before it) run as root: the envelope's variables must not reach them, or
    // LD_PRELOAD & co. would run code as root before the switch. They start from the agent's own
    // environment, and env(1), already running as the user, adds the envelope's before the shell.
    const assignments = Object.entries({ ...spec.env, ...identity }).map(([k, v]) => `${k}=${v}`);
    return {
      file: sw.setpriv,
      args: [
        `--reuid=${as.uid}`,
        `--regid=${as.gid}`,
        '--init-groups',
        '--',
        ENV_BIN,
        '--',
        ...assignments,
        '/bin/sh',
        ...shell,
      ],
      cwd,
      env: { ...baseEnv, ...identity },
    };
  }
  // Node switches uid/gid in the child before exec: nothing runs as root with the envelope's variables.
  return { file: '/bin/sh', args: shell, cwd, env, uid: as.uid, gid: as.gid };
}

/** env(1) from coreutils, which applies the envelope's variables after the user switch. */
const ENV_BIN = '/usr/bin/env';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
