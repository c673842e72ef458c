import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import type { AgentIdentity, PolicyUser } from './policy.types';
import { PolicyError } from './policy.error';

/** Finds accounts by login name. */
export interface UserDatabase {
  /** null when no such user exists; throws {@link PolicyError} when the database cannot be asked */
  lookup(name: string): PolicyUser | null;
}

/**
 * Login names we look up: POSIX portable characters, not all digits (a uid is not a name) and not
 * starting with `-` (it would read as an option to getent).
 */
export const USER_NAME_PATTERN = /^(?!\d+$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\$?$/;

/** Parses one `name:x:uid:gid:gecos:home:shell` line; null if it is not one. */
export function parsePasswdLine(line: string): PolicyUser | null {
  const f = line.replace(/\r?\n$/, '').split(':');
  if (f.length !== 7 || f[0] === '' || !/^\d+$/.test(f[2]) || !/^\d+$/.test(f[3])) return null;
  return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/', shell: f[6] || '/bin/sh' };
}

/**
 * The system's user database. Node has no getpwnam, so we ask `getent passwd <name>`, which goes
 * through NSS and so also finds LDAP/SSSD users; where getent does not exist, /etc/passwd is read.
 */
export const systemUserDatabase: UserDatabase = {
  lookup(name: string): PolicyUser | null {
    let out: string;
    try {
      out = execFileSync('getent', ['passwd', name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 10_000,
      });
    } catch (err) {
      const e = err as { code?: string; status?: number | null; stderr?: string };
      if (e.status === 2) return null; // getent: key not found
      if (e.code === 'ENOENT') return lookupInPasswdFile(name, '/etc/passwd');
      throw new PolicyError(
        `cannot look up user ${name}: getent passwd failed: ${(e.stderr ?? '').trim() || (err as Error).message}`,
      );
    }
    const user = parsePasswdLine(out.split('\n')[0]);
    if (!user || user.name !== name)
      throw new PolicyError(`cannot look up user ${name}: getent passwd printed ${JSON.stringify(out.slice(0, 120))}`);
    return user;
  },
};

/** Looks `name` up in a passwd-format file. */
export function lookupInPasswdFile(name: string, path: string): PolicyUser | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot look up user ${name}: cannot read ${path}: ${(err as Error).message}`);
  }
  for (const line of text.split('\n')) {
    const user = parsePasswdLine(line);
    if (user?.name === name) return user;
  }
  return null;
}

/**
 * The account the agent process runs as: the default run-as user when the policy names none. A uid
 * without a passwd entry (some containers) gets its number as name and $HOME as home.
 */
export function agentAccount(): PolicyUser {
  const uid = process.getuid!();
  try {
    const u = userInfo();
    return { name: u.username, uid, gid: u.gid, home: u.homedir, shell: u.shell ?? '/bin/sh' };
  } catch {
    return { name: String(uid), uid, gid: process.getgid!(), home: homedir(), shell: '/bin/sh' };
  }
}

/** Who the agent process is, for the switch-user check of `evaluatePolicy`. */
export function agentIdentity(): AgentIdentity {
  const a = agentAccount();
  return { uid: a.uid, user: a.name };
}

/** Finds groups by name. */
export interface GroupDatabase {
  /** the gid of group `name`; null when no such group exists or it cannot be asked */
  gidOf(name: string): number | null;
}

/** The system's group database, through `getent group <name>` (NSS: also LDAP/SSSD groups). */
export const systemGroupDatabase: GroupDatabase = {
  gidOf(name: string): number | null {
    if (!USER_NAME_PATTERN.test(name)) return null;
    try {
      const out = execFileSync('getent', ['group', name], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 10_000,
      });
      const f = out.split('\n')[0].split(':');
      return f[0] === name && /^\d+$/.test(f[2] ?? '') ? Number(f[2]) : null;
    } catch {
      return null;
    }
  },
};
