import type { FilesPolicy } from './files.policy';

/** A user commands may run as, resolved from the system user database when the policy is loaded. */
export interface PolicyUser {
  /** login name, as the envelope's `runAs` names it */
  name: string;
  uid: number;
  /** primary group */
  gid: number;
  /** home directory (HOME of the command; its cwd when the envelope gives none) */
  home: string;
  /** login shell, informational: commands always run under /bin/sh */
  shell: string;
}

/** One compiled `allow` or `deny` entry. */
export interface CommandPattern {
  /** the entry as written in the policy file, quoted in rejection reasons */
  source: string;
  kind: 'glob' | 'regex';
  /** true when the pattern accepts the whole command (glob) or finds a match in it (regex) */
  test(command: string): boolean;
}

/** The agent's local policy, loaded and resolved at start; it wins over whatever an envelope asks. */
export interface AgentPolicy {
  /** absolute path of the policy file; null = the built-in default (no `--policy`) */
  file: string | null;
  /** empty = every command not denied */
  allow: readonly CommandPattern[];
  /** checked first: a command matching any of these is refused even when allowed */
  deny: readonly CommandPattern[];
  /** never empty; the first is the user of commands whose envelope names none */
  users: readonly PolicyUser[];
  /** false: nothing runs as uid 0 */
  allowRoot: boolean;
  /** ms; the longest execution timeout, whatever the envelope asks; null = the protocol's limit */
  maxTimeoutMs: number | null;
  /** bytes of stdout, and of stderr, kept per command: min(policy, the agent's `--max-output`) */
  maxOutputBytes: number;
  /**
   * processes the run-as user may have at once while a command runs (RLIMIT_NPROC, set with
   * prlimit(1)): caps a fork bomb. The kernel counts all of that user's processes, and does not
   * enforce it for root. null = no limit.
   */
  maxProcesses: number | null;
  /**
   * names of the env variables an envelope may set (a trailing `*` matches a prefix); null = any.
   * With an `allow` list and no `env`, none: BASH_ENV, PATH, LD_PRELOAD, PERL5OPT… would otherwise
   * change what an allowed command does.
   */
  envNames: readonly string[] | null;
  /** where file transfers may write and read, and the largest file (`files`; default: no path, 100 MiB) */
  files: FilesPolicy;
}

/** Who the agent process itself is. */
export interface AgentIdentity {
  uid: number;
  /** login name, or the uid as text when the user database has no entry for it */
  user: string;
}

/** The parts of a command message the policy looks at. */
export interface PolicyRequest {
  command: string;
  /** null = the policy's default user */
  runAs: string | null;
  /** ms, as the envelope asks */
  timeoutMs: number;
  /** names of the env variables the envelope sets */
  envNames?: readonly string[];
}

/** A command the policy lets run, and how. Spread-compatible with the runner's `runAs`. */
export interface PolicyGrant {
  ok: true;
  /** login name to run as */
  user: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** ms; the envelope's timeout, clamped to the policy's ceiling */
  timeoutMs: number;
  /** bytes per stream to keep */
  maxOutputBytes: number;
  /** RLIMIT_NPROC of the command; null = none */
  maxProcesses: number | null;
  /** something the policy changed about the request, worth a log line (e.g. a clamped timeout); null = nothing */
  note: string | null;
}

/** A command the policy refuses. */
export interface PolicyRefusal {
  ok: false;
  /** one line starting with `policy: ` naming the rule, for the log and the `rejected` reply */
  reason: string;
}

export type PolicyDecision = PolicyGrant | PolicyRefusal;
