/** Bounds on what crosses the wire; both ends enforce them. */
export const LIMITS = {
  /** characters in a command line */
  commandLength: 65_536,
  /** characters in a cwd */
  cwdLength: 4_096,
  /** entries in a command's env */
  envCount: 128,
  /** characters in one env value */
  envValueLength: 32_768,
  /** hosts in one task */
  hostsPerTask: 10_000,
  /** ms; longest execution timeout a command may ask for (7 days) */
  maxTimeoutMs: 7 * 24 * 3600 * 1000,
  /** ms; longest delivery timeout (1 day) */
  maxDeliveryTimeoutMs: 24 * 3600 * 1000,
  /** ms; longest SIGTERM→SIGKILL grace */
  maxKillGraceMs: 5 * 60 * 1000,
  /** bytes; a command message larger than this is rejected unread (it cannot be a valid command) */
  maxCommandMessageBytes: 512 * 1024,
  /** characters of output in one live `output` chunk */
  maxOutputChunkChars: 64 * 1024,
  /** bytes; a reply larger than this is rejected (two 1 MiB captures plus JSON escaping fit) */
  maxReplyMessageBytes: 16 * 1024 * 1024,
} as const;

/** Env variable names a command may set. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
