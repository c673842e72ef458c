/**
 * File transfer on the wire (protocol 2): `warren cp` (put a file on hosts), `warren fetch` (get a
 * file from hosts) and `warren run --stdin` (the same bytes on every host's standard input).
 *
 * A put or stdin travels in two parts:
 * 1. the signed command carries a {@link FileManifest}: the file's SHA-256, size, and the SHA-256 of
 *    each of its chunks; the command's host, namespace, agent key and expiry bind it to one host and
 *    one time, like any command;
 * 2. once the agent has journaled the invocation, sent its `started` and checked that its
 *    destination does not already hold the content, it sends a {@link ReadyMessage} ("send me the
 *    chunks"); the controller that reads it publishes every chunk once for all the hosts that asked
 *    (RabbitMQ sender-selected distribution: routing key = one host, `BCC` header = the others;
 *    https://www.rabbitmq.com/docs/sender-selected) to the {@link fileExchange}, which routes it to
 *    each host's {@link agentFileQueue}. A chunk is raw bytes with {@link CHUNK_HEADERS}; it is not
 *    signed, the manifest's hash of it is what the agent trusts. A host that already holds the
 *    content never asks, and receives nothing.
 * A get: the agent reads the file and publishes it in {@link FileChunkMessage}s, signed like every
 * reply, to the command's `transfer.chunkReplyTo` (the controllers' {@link filesInQueue}), waits
 * for the broker to confirm them all, then sends its `result` with {@link ResultFile}.
 */

/** bytes of every chunk of a file but the last: 512 KiB (see docs/files.md for why). */
export const FILE_CHUNK_BYTES = 512 * 1024;

/**
 * bytes; the largest file the protocol carries (a controller's `--max-file-size` is at most this):
 * its manifest lists 2,048 chunk hashes (about 140 KB), well inside a command message's limit.
 */
export const MAX_FILE_BYTES = 1024 * 1024 * 1024;

/** Lowercase hex SHA-256: 64 characters. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** Number of chunks of a file of `size` bytes: 0 for an empty file. */
export function chunkCount(size: number, chunkSize = FILE_CHUNK_BYTES): number {
  return Math.ceil(size / chunkSize);
}

/** The content of a file a command carries, as the controller signs it. */
export interface FileManifest {
  /** lowercase hex SHA-256 of the whole file */
  sha256: string;
  /** bytes, 0 to {@link MAX_FILE_BYTES} */
  size: number;
  /** bytes of every chunk but the last ({@link FILE_CHUNK_BYTES} when sent) */
  chunkSize: number;
  /** lowercase hex SHA-256 of each chunk, in order: {@link chunkCount} entries */
  chunks: string[];
}

/** Controller → agent, on a command (`op: put`): write `file` at `dest` instead of running `command`. */
export interface PutTransfer {
  op: 'put';
  file: FileManifest;
  /** absolute path of the destination file (its directory must exist unless `mkdir`) */
  dest: string;
  /** permission bits (0 to 0o7777); null: 0644 for a new file, an existing file's own mode kept */
  mode: number | null;
  /** user name that owns the file; null: the run-as user the agent's policy grants */
  owner: string | null;
  /** group name; null: that user's primary group */
  group: string | null;
  /** create missing parent directories (mode 0755, owned by `owner`) */
  mkdir: boolean;
}

/** Controller → agent, on a command (`op: get`): send back the file at `path` instead of running `command`. */
export interface GetTransfer {
  op: 'get';
  /** absolute path of the file to read */
  path: string;
  /** bytes; a larger file fails the invocation unread ("file is N bytes, over the cap of M") */
  maxBytes: number;
  /** routing key on the replies exchange for the {@link FileChunkMessage}s (the controllers' {@link filesInQueue}) */
  chunkReplyTo: string;
}

/** What a protocol-2 command may carry instead of a shell command. */
export type Transfer = PutTransfer | GetTransfer;

/**
 * Agent → controller (on the command's `replyTo`): send me the chunks of `sha256` for this
 * invocation. Sent once per put or stdin invocation, after `started`, and only when the agent needs
 * the bytes. It changes no state.
 */
export interface FileRequest {
  invocationId: string;
  taskId: string;
  host: string;
  /** the manifest's file hash */
  sha256: string;
}

/**
 * AMQP headers of a chunk sent to agents (the body is the chunk's raw bytes). `type` is
 * `warren.chunk`.
 */
export const CHUNK_HEADERS = {
  /** the task the chunk belongs to (string) */
  task: 'warren-task',
  /** the file's SHA-256, lowercase hex (string) */
  file: 'warren-file',
  /** the chunk's index, from 0 (number) */
  index: 'warren-chunk',
} as const;

/** AMQP `type` of a chunk published to agents. */
export const CHUNK_MESSAGE_TYPE = 'warren.chunk';

/** What an agent reports of the file of a put, stdin or get invocation, in its `result`. */
export interface ResultFile {
  /** lowercase hex SHA-256 of the file (put: the destination's content afterwards; get: what was sent) */
  sha256: string;
  /** bytes */
  size: number;
  /** put: false when the destination already held this content (nothing was written); get and stdin: false */
  changed: boolean;
}
