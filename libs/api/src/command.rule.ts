import { ENV_NAME_PATTERN, LIMITS } from '@warren/protocol';

/**
 * bytes; all of one task's `NAME=value` entries together (UTF-8), {@link LIMITS.envTotalBytes}.
 * Without it 128 entries of 128 KiB would make a command message far over
 * LIMITS.maxCommandMessageBytes, refused on every host.
 */
export const ENV_TOTAL_BYTES = LIMITS.envTotalBytes;

/** Bytes of `text` in UTF-8, as the kernel counts an argument or a path (a lone surrogate as U+FFFD, 3 bytes). */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

const NUL = '\u0000';

/**
 * The one rule for a command line (API body, CLI argument, and the agent again on arrival): a string
 * of at most {@link LIMITS.commandBytes} UTF-8 bytes without NUL. The agent hands it to execve(2) as
 * one argument of `/bin/sh -c`, which Linux refuses with E2BIG at MAX_ARG_STRLEN (131,072 bytes)
 * and cuts at a NUL; so counting characters (`echo` + 60,000 × `ｈ` is 60,005 characters and
 * 180,005 bytes) lets through what no host can run. Emptiness is the caller's check.
 * Returns what is wrong, naming `field` and the limit, or null.
 */
export function commandProblem(command: unknown, field = 'command'): string | null {
  if (typeof command !== 'string') return `${field} must be a string`;
  if (command.includes(NUL)) return `${field} must not contain a NUL character (execve(2) ends an argument there)`;
  const bytes = utf8Bytes(command);
  if (bytes > LIMITS.commandBytes)
    return `${field} is ${bytes} bytes of UTF-8; at most ${LIMITS.commandBytes} bytes (Linux refuses one argument of 131072 bytes or more)`;
  return null;
}

/**
 * The one rule for a working directory (API `cwd`, CLI `--cwd`, the agent on arrival): an absolute
 * path (a relative one would be read from the agent's own directory, which the sender cannot know)
 * of at most {@link LIMITS.cwdBytes} UTF-8 bytes (PATH_MAX with its NUL) without NUL.
 * Returns what is wrong, naming `field`, or null.
 */
export function cwdProblem(cwd: unknown, field = 'cwd'): string | null {
  if (typeof cwd !== 'string') return `${field} must be a string`;
  if (!cwd.startsWith('/'))
    return `${field} must be an absolute path (starting with /), got ${JSON.stringify(cwd.slice(0, 80))}`;
  if (cwd.includes(NUL)) return `${field} must not contain a NUL character`;
  const bytes = utf8Bytes(cwd);
  if (bytes > LIMITS.cwdBytes)
    return `${field} is ${bytes} bytes of UTF-8; at most ${LIMITS.cwdBytes} bytes (PATH_MAX)`;
  return null;
}

/**
 * What is wrong with one env entry, or null: a name `[A-Za-z_][A-Za-z0-9_]*`, a string value without
 * NUL, and `NAME=value` of at most {@link LIMITS.envEntryBytes} UTF-8 bytes (Linux's MAX_ARG_STRLEN,
 * 131,072, less the NUL; execve(2) refuses a longer one with E2BIG).
 */
export function envEntryProblem(name: string, value: unknown): string | null {
  if (!ENV_NAME_PATTERN.test(name))
    return `name ${JSON.stringify(name.slice(0, 64))} must match ${ENV_NAME_PATTERN.source}`;
  if (typeof value !== 'string') return `value of ${name} must be a string`;
  if (value.includes(NUL)) return `value of ${name} must not contain a NUL character`;
  const bytes = utf8Bytes(name) + 1 + utf8Bytes(value);
  if (bytes > LIMITS.envEntryBytes)
    return `${name}=value is ${bytes} bytes of UTF-8; at most ${LIMITS.envEntryBytes} bytes (Linux's MAX_ARG_STRLEN less its NUL)`;
  return null;
}

/**
 * The one rule for a command's env (API `env`, the CLI's `--env` flags together, the agent on
 * arrival): an object of at most {@link LIMITS.envCount} entries, each by {@link envEntryProblem},
 * whose `NAME=value` entries add up to at most {@link ENV_TOTAL_BYTES}. Returns what is wrong,
 * prefixed with `<field>: `, or null.
 */
export function envProblem(env: unknown, field = 'env'): string | null {
  if (typeof env !== 'object' || env === null || Array.isArray(env))
    return `${field}: must be an object of NAME: "value" pairs`;
  const entries = Object.entries(env);
  if (entries.length > LIMITS.envCount) return `${field}: has ${entries.length} variables; at most ${LIMITS.envCount}`;
  let total = 0;
  for (const [name, value] of entries) {
    const problem = envEntryProblem(name, value);
    if (problem) return `${field}: ${problem}`;
    total += utf8Bytes(name) + 1 + utf8Bytes(value as string);
  }
  if (total > ENV_TOTAL_BYTES)
    return `${field}: NAME=value entries add up to ${total} bytes; at most ${ENV_TOTAL_BYTES}`;
  return null;
}

/**
 * What no host can run in a command as the wire carries it (`cwd` null when unset), or null: the
 * first problem of {@link commandProblem}, {@link cwdProblem} and {@link envProblem}. The agent
 * asks it on arrival, so that a controller older than these rules gets a `rejected` answer instead
 * of `spawn E2BIG` on every host.
 */
export function unrunnableProblem(c: {
  command: string;
  cwd: string | null;
  env: Record<string, string>;
}): string | null {
  return commandProblem(c.command) ?? (c.cwd === null ? null : cwdProblem(c.cwd)) ?? envProblem(c.env);
}
