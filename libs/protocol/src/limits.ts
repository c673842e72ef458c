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
