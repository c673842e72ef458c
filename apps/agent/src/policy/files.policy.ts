import type { CommandMessage, PutTransfer } from '@warren/protocol';
import { parseByteSize } from './byte.size';
import { compilePathGlob, normalisePath, type PathGlob } from './path.glob';
import { formatDuration } from './policy.decision';
import type { AgentIdentity, AgentPolicy, PolicyDecision, PolicyUser } from './policy.types';
import type { GroupDatabase } from './user.database';

/** bytes; the default ceiling of a put, a stdin or a get: 100 MiB, the controller's default upload limit. */
export const DEFAULT_FILES_MAX_BYTES = 100 * 1024 * 1024;

/** The policy's `files` section: where file transfers may write and read, and how big a file may be. */
export interface FilesPolicy {
  /** globs a put's destination must match; empty (the default) = no put anywhere */
  write: readonly PathGlob[];
  /** globs a get's path must match; empty (the default) = no get anywhere */
  read: readonly PathGlob[];
  /** bytes; the largest file a put, a stdin or a get may carry */
  maxBytes: number;
}

const FILES_FIELDS = ['write', 'read', 'maxBytes'] as const;

/** The `files` section of a policy without one: no path at all, 100 MiB. */
export function defaultFilesPolicy(): FilesPolicy {
  return { write: [], read: [], maxBytes: DEFAULT_FILES_MAX_BYTES };
}

/**
 * Parses the `files` section (`raw`, as YAML gave it; absent = {@link defaultFilesPolicy}). `fail`
 * throws the policy error for a field such as `files.write[1]`.
 */
export function parseFilesPolicy(raw: unknown, fail: (field: string, problem: string) => never): FilesPolicy {
  if (raw === undefined || raw === null) return defaultFilesPolicy();
  if (typeof raw !== 'object' || Array.isArray(raw)) return fail('files', 'must be a mapping (write, read, maxBytes)');
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj))
    if (!(FILES_FIELDS as readonly string[]).includes(key))
      fail(`files.${key}`, `unknown field (known: ${FILES_FIELDS.join(', ')})`);
  const globs = (field: 'write' | 'read'): PathGlob[] => {
    const v = obj[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return fail(`files.${field}`, 'must be a list of path globs');
    return v.map((item: unknown, i) => {
      if (typeof item !== 'string')
        return fail(`files.${field}[${i}]`, `must be a string, got ${JSON.stringify(item)}`);
      try {
        return compilePathGlob(item);
      } catch (err) {
        return fail(`files.${field}[${i}]`, (err as Error).message);
      }
    });
  };
  const maxBytes =
    obj.maxBytes === undefined || obj.maxBytes === null
      ? DEFAULT_FILES_MAX_BYTES
      : parseByteSize(obj.maxBytes, (p) => fail('files.maxBytes', p));
  return { write: globs('write'), read: globs('read'), maxBytes };
}

const refuse = (reason: string): PolicyDecision => ({ ok: false, reason: `policy: ${reason}` });

/**
 * Decides a file transfer (a command with `transfer`) by the policy's `files` section instead of
 * its command patterns (its `command` is only a description):
 * - put: `files.write` must match the destination; the file at most `files.maxBytes`; the owner
 *   (default: the policy's first user) one of `users`, root only with `allowRoot`, another user
 *   than the agent's only when the agent is root; the group (default: the owner's primary group)
 *   must exist, gid 0 only with `allowRoot`. The grant's `uid`/`gid` are the file's owner and group.
 * - get: `files.read` must match the path; the grant is the agent's default user (unused).
 * The timeout is clamped to `maxTimeout` as for a command. Pure apart from `groups`.
 */
export function evaluateTransfer(
  policy: AgentPolicy,
  c: Pick<CommandMessage, 'transfer' | 'timeoutMs'>,
  agent: AgentIdentity,
  groups: GroupDatabase,
): PolicyDecision {
  const t = c.transfer!;
  if (t.op === 'get') {
    const path = normalisePath(t.path);
    if (path === null || !policy.files.read.some((g) => g.test(path)))
      return refuse(`files.read allows no path matching ${t.path}`);
    return grant(policy, policy.users[0], policy.users[0].gid, c.timeoutMs);
  }
  return evaluatePut(policy, t, c.timeoutMs, agent, groups);
}

function evaluatePut(
  policy: AgentPolicy,
  t: PutTransfer,
  timeoutMs: number,
  agent: AgentIdentity,
  groups: GroupDatabase,
): PolicyDecision {
  const dest = normalisePath(t.dest);
  if (dest === null || !policy.files.write.some((g) => g.test(dest)))
    return refuse(`files.write allows no path matching ${t.dest}`);
  if (t.file.size > policy.files.maxBytes)
    return refuse(`the file is ${t.file.size} bytes, over files.maxBytes (${policy.files.maxBytes})`);
  const user = t.owner === null ? policy.users[0] : policy.users.find((u) => u.name === t.owner);
  if (!user) return refuse(`owner ${t.owner} is not allowed (allowed: ${policy.users.map((u) => u.name).join(', ')})`);
  if (user.uid === 0 && !policy.allowRoot)
    return refuse('refusing to write a file owned by root; set allowRoot: true in the policy');
  if (user.uid !== agent.uid && agent.uid !== 0)
    return refuse(`cannot write a file owned by ${user.name}: the agent is not root (it runs as ${agent.user})`);
  let gid = user.gid;
  if (t.group !== null) {
    const g = groups.gidOf(t.group);
    if (g === null) return refuse(`no such group ${t.group} on this host`);
    if (g === 0 && !policy.allowRoot)
      return refuse(`refusing to give a file to group ${t.group} (gid 0); set allowRoot: true in the policy`);
    gid = g;
  }
  return grant(policy, user, gid, timeoutMs);
}

/** Refuses a stdin larger than `files.maxBytes`; null when it fits (or there is none). */
export function stdinRefusal(policy: AgentPolicy, c: Pick<CommandMessage, 'stdin'>): string | null {
  if (!c.stdin || c.stdin.size <= policy.files.maxBytes) return null;
  return `policy: stdin is ${c.stdin.size} bytes, over files.maxBytes (${policy.files.maxBytes})`;
}

function grant(policy: AgentPolicy, user: PolicyUser, gid: number, timeoutMs: number): PolicyDecision {
  const clamped = policy.maxTimeoutMs !== null && timeoutMs > policy.maxTimeoutMs;
  return {
    ok: true,
    user: user.name,
    uid: user.uid,
    gid,
    home: user.home,
    shell: user.shell,
    timeoutMs: clamped ? policy.maxTimeoutMs! : timeoutMs,
    maxOutputBytes: policy.maxOutputBytes,
    maxProcesses: null,
    note: clamped
      ? `timeout clamped to ${formatDuration(policy.maxTimeoutMs!)} by policy (asked ${formatDuration(timeoutMs)})`
      : null,
  };
}
