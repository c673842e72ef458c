import type { AgentIdentity, AgentPolicy, PolicyDecision, PolicyRequest } from './policy.types';

const refuse = (reason: string): PolicyDecision => ({ ok: false, reason: `policy: ${reason}` });

/**
 * Decides whether the agent may run a command and how: deny patterns first (deny wins), then the
 * allow list, then the user (named by the envelope or the policy's default; never root unless
 * allowed; never another user unless the agent is root), then the timeout ceiling and output cap.
 * Pure: everything it needs is in its arguments.
 */
export function evaluatePolicy(policy: AgentPolicy, req: PolicyRequest, agent: AgentIdentity): PolicyDecision {
  const denied = policy.deny.find((p) => p.test(req.command));
  if (denied) return refuse(`command matches deny pattern ${JSON.stringify(denied.source)}`);
  if (policy.allow.length > 0 && !policy.allow.some((p) => p.test(req.command)))
    return refuse('command matches no allow pattern');
  if (policy.envNames !== null) {
    const allowed = policy.envNames;
    const bad = (req.envNames ?? []).find(
      (n) => !allowed.some((a) => (a.endsWith('*') ? n.startsWith(a.slice(0, -1)) : n === a)),
    );
    if (bad !== undefined)
      return refuse(`env ${bad} is not allowed (allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none'})`);
  }

  const user = req.runAs === null ? policy.users[0] : policy.users.find((u) => u.name === req.runAs);
  if (!user) return refuse(`user ${req.runAs} is not allowed (allowed: ${policy.users.map((u) => u.name).join(', ')})`);
  if (user.uid === 0 && !policy.allowRoot) {
    return refuse('refusing to run as root; set allowRoot: true in the policy or run the agent as another user');
  }
  if (user.uid !== agent.uid && agent.uid !== 0)
    return refuse(`cannot run as ${user.name}: the agent is not root (it runs as ${agent.user})`);

  const clamped = policy.maxTimeoutMs !== null && req.timeoutMs > policy.maxTimeoutMs;
  return {
    ok: true,
    user: user.name,
    uid: user.uid,
    gid: user.gid,
    home: user.home,
    shell: user.shell,
    timeoutMs: clamped ? policy.maxTimeoutMs! : req.timeoutMs,
    maxOutputBytes: policy.maxOutputBytes,
    maxProcesses: policy.maxProcesses,
    note: clamped
      ? `timeout clamped to ${formatDuration(policy.maxTimeoutMs!)} by policy (asked ${formatDuration(req.timeoutMs)})`
      : null,
  };
}

/** `1h`, `90s`, `1500ms`: the largest unit that divides `ms` exactly. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The policy in brief, for the agent's start-up log line (no patterns: they may be long). */
export function describePolicy(policy: AgentPolicy): Record<string, unknown> {
  return {
    file: policy.file,
    allow: policy.allow.length,
    deny: policy.deny.length,
    users: policy.users.map((u) => u.name),
    allowRoot: policy.allowRoot,
    maxTimeoutMs: policy.maxTimeoutMs,
    maxOutputBytes: policy.maxOutputBytes,
    files: { write: policy.files.write.length, read: policy.files.read.length, maxBytes: policy.files.maxBytes },
  };
}
