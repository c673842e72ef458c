/**
 * Bounds on what crosses the wire; both ends enforce them. Sizes a host's kernel checks are in
 * UTF-8 bytes, as execve(2) and chdir(2) count them, never in characters.
 */
export const LIMITS = {
  /**
   * UTF-8 bytes in a command line. The agent runs `/bin/sh -c <command>`, so the command is one
   * argument of execve(2), and Linux refuses any single argument of MAX_ARG_STRLEN (32 pages,
   * 131,072 bytes, its NUL included) or more with E2BIG; half of that leaves room for the
   * `setpriv`/`prlimit` wrappers and the environment. The decoder bounds the UTF-16 length by the
   * same number (never more than the bytes); the agent's admission checks the bytes.
   */
  commandBytes: 65_536,
  /** UTF-8 bytes in a cwd: Linux's PATH_MAX is 4,096 including the NUL (chdir(2) → ENAMETOOLONG) */
  cwdBytes: 4_095,
  /** entries in a command's env */
  envCount: 128,
  /**
   * UTF-8 bytes in one env entry as execve(2) gets it, `NAME=value`: at most MAX_ARG_STRLEN − 1
   * (131,072 with the NUL, see include/uapi/linux/binfmts.h), or the spawn fails with E2BIG
   */
  envEntryBytes: 131_071,
  /** UTF-8 bytes of all of one command's `NAME=value` env entries together */
  envTotalBytes: 131_072,
  /** hosts in one task */
  hostsPerTask: 10_000,
  /** ms; longest execution timeout a command may ask for (7 days) */
  maxTimeoutMs: 7 * 24 * 3600 * 1000,
  /** ms; longest delivery timeout (1 day) */
  maxDeliveryTimeoutMs: 24 * 3600 * 1000,
  /** ms; longest SIGTERM→SIGKILL grace */
  maxKillGraceMs: 5 * 60 * 1000,
  /**
   * bytes; a command message larger than this is rejected unread (it cannot be a valid command).
   * Every command the limits above allow fits: JSON writes a control character as 6 bytes
   * (`\u0001`), so command, env and cwd take at most 6 × (65,536 + 131,072 + 4,095) ≈ 1.15 MiB,
   * and ids, times and the reply route a few hundred bytes more.
   */
  maxCommandMessageBytes: 2 * 1024 * 1024,
  /** characters of output in one live `output` chunk */
  maxOutputChunkChars: 64 * 1024,
  /**
   * bytes; a reply larger than this is rejected. A capture never costs more on the wire than the
   * base64 of its kept bytes (`encodeCapture`): at the agent's 4 MiB cap, 5,592,408 bytes, so two
   * of them, a 4,096-character reason JSON-escaped (≤ 24,576 bytes) and the ids fit in 11.3 MB,
   * under this with room to spare. It stays 16 MiB so that an agent from before exact capture
   * (text, up to six bytes per escaped byte, cut to fit) is still heard.
   */
  maxReplyMessageBytes: 16 * 1024 * 1024,
} as const;

/** Env variable names a command may set. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
