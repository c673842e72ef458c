import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseDurationMs } from '@warren/api';
import { parseByteSize } from './byte.size';
import { compilePattern } from './command.pattern';
import { defaultFilesPolicy, parseFilesPolicy } from './files.policy';
import type { AgentPolicy, CommandPattern, PolicyUser } from './policy.types';
import { PolicyError } from './policy.error';
import { agentAccount, systemUserDatabase, USER_NAME_PATTERN, type UserDatabase } from './user.database';

/** What loading a policy needs to know besides the file. */
export interface PolicyLoadOptions {
  /** bytes; the agent's `--max-output`: a policy can lower it, never raise it */
  agentMaxOutputBytes: number;
  /** the account the agent runs as (the default user); default: this process's */
  agent?: PolicyUser;
  /** where users are resolved; default: the system's (getent) */
  users?: UserDatabase;
}

const FIELDS = [
  'allow',
  'deny',
  'users',
  'allowRoot',
  'maxTimeout',
  'maxOutputBytes',
  'maxProcesses',
  'env',
  'files',
] as const;

export { parseByteSize } from './byte.size';

/**
 * The policy of an agent started without `--policy`: every command, as the agent's own user, and
 * so nothing at all when the agent is root (allowRoot is false).
 */
export function defaultPolicy(opts: PolicyLoadOptions): AgentPolicy {
  return {
    file: null,
    allow: [],
    deny: [],
    users: [opts.agent ?? agentAccount()],
    allowRoot: false,
    maxTimeoutMs: null,
    maxOutputBytes: opts.agentMaxOutputBytes,
    maxProcesses: null,
    envNames: null,
    files: defaultFilesPolicy(),
  };
}

/**
 * Reads and resolves the policy file at `file` (YAML, or JSON which is YAML too); null = the
 * default policy. Throws {@link PolicyError}: one line naming the file, the field and the problem.
 */
export function loadAgentPolicy(file: string | null, opts: PolicyLoadOptions): AgentPolicy {
  if (file === null) return defaultPolicy(opts);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : e.code === 'EISDIR'
            ? 'is a directory'
            : e.message;
    throw new PolicyError(`${file}: cannot read the policy file: ${why}`);
  }
  return parsePolicy(text, file, opts);
}

/** Parses policy text; `file` names it in errors. */
export function parsePolicy(text: string, file: string, opts: PolicyLoadOptions): AgentPolicy {
  const fail = (field: string | null, problem: string): never => {
    throw new PolicyError(`${file}: ${field === null ? '' : `${field}: `}${problem}`);
  };
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) fail(null, `not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) fail(null, 'is empty (write {} for the default policy on purpose)');
  if (typeof raw !== 'object' || Array.isArray(raw))
    fail(null, 'must be a mapping of fields (allow, deny, users, ...)');
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!(FIELDS as readonly string[]).includes(key)) fail(key, `unknown field (known: ${FIELDS.join(', ')})`);
  }

  const stringList = (field: string): string[] => {
    const v = obj[field];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) fail(field, 'must be a list');
    (v as unknown[]).forEach((item, i) => {
      if (typeof item !== 'string') fail(`${field}[${i}]`, `must be a string, got ${JSON.stringify(item)}`);
    });
    return v as string[];
  };
  const patterns = (field: 'allow' | 'deny'): CommandPattern[] =>
    stringList(field).map((source, i) => {
      try {
        return compilePattern(source, field);
      } catch (err) {
        return fail(`${field}[${i}]`, (err as Error).message);
      }
    });

  const allowRoot = obj.allowRoot ?? false;
  if (typeof allowRoot !== 'boolean') fail('allowRoot', `must be true or false, got ${JSON.stringify(allowRoot)}`);

  const names = stringList('users');
  if (obj.users !== undefined && obj.users !== null && names.length === 0)
    fail('users', "must name at least one user (leave it out for the agent's own user)");
  const db = opts.users ?? systemUserDatabase;
  const users: PolicyUser[] = [];
  names.forEach((name, i) => {
    const field = `users[${i}]`;
    if (!USER_NAME_PATTERN.test(name)) fail(field, `${JSON.stringify(name)} is not a user name`);
    if (users.some((u) => u.name === name)) fail(field, `${name} is listed twice`);
    let user: PolicyUser | null;
    try {
      user = db.lookup(name);
    } catch (err) {
      return fail(field, (err as Error).message);
    }
    if (!user) return fail(field, `no such user ${name} on this host`);
    if (user.uid === 0 && !allowRoot) fail(field, `${name} is uid 0; set allowRoot: true to let commands run as root`);
    users.push(user);
  });

  return {
    file,
    allow: patterns('allow'),
    deny: patterns('deny'),
    users: users.length > 0 ? users : [opts.agent ?? agentAccount()],
    allowRoot: allowRoot as boolean,
    maxTimeoutMs:
      obj.maxTimeout === undefined || obj.maxTimeout === null
        ? null
        : parseMaxTimeout(obj.maxTimeout, (p) => fail('maxTimeout', p)),
    maxOutputBytes: Math.min(
      opts.agentMaxOutputBytes,
      obj.maxOutputBytes === undefined || obj.maxOutputBytes === null
        ? Infinity
        : parseByteSize(obj.maxOutputBytes, (p) => fail('maxOutputBytes', p)),
    ),
    maxProcesses: parseMaxProcesses(obj.maxProcesses, (p) => fail('maxProcesses', p)),
    envNames: parseEnvNames(obj.env, stringList('env'), stringList('allow').length > 0, (f, p) => fail(f, p)),
    files: parseFilesPolicy(obj.files, (f, p) => fail(f, p)),
  };
}

/** `env`: variable names (a trailing `*` = a prefix); absent = none with an allow list, any without. */
function parseEnvNames(
  raw: unknown,
  names: string[],
  hasAllow: boolean,
  fail: (field: string, problem: string) => never,
): readonly string[] | null {
  if (raw === undefined || raw === null) return hasAllow ? [] : null;
  names.forEach((n, i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*\*?$/.test(n))
      fail(`env[${i}]`, `${JSON.stringify(n)} is not a variable name (a trailing * matches a prefix)`);
  });
  return names;
}

/** A whole number of processes, 1 to 1,000,000; absent = no limit. */
function parseMaxProcesses(v: unknown, fail: (problem: string) => never): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1_000_000)
    return fail(`must be a whole number from 1 to 1000000, got ${JSON.stringify(v)}`);
  return v;
}

/** ms from `30s`, `5m`, `1h`, `500ms` or a number of seconds. */
function parseMaxTimeout(v: unknown, fail: (problem: string) => never): number {
  const ms =
    typeof v === 'number'
      ? Number.isFinite(v)
        ? Math.round(v * 1000)
        : null
      : typeof v === 'string'
        ? parseDurationMs(v)
        : null;
  if (ms === null) return fail(`must be a duration like 30s, 5m or 1h, got ${JSON.stringify(v)}`);
  if (ms < 1) return fail('must be more than 0');
  return ms;
}
