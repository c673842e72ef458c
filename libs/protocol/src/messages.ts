import type { FileManifest, FileRequest, ResultFile, Transfer } from './files';
import type { AgentResultState } from './states';

/** AMQP `type` property of each message kind. */
export const MESSAGE_TYPES = {
  command: 'warren.command',
  started: 'warren.started',
  result: 'warren.result',
  presence: 'warren.presence',
  output: 'warren.output',
  cancel: 'warren.cancel',
  interrupted: 'warren.interrupted',
  ready: 'warren.ready',
  fileChunk: 'warren.file-chunk',
} as const;

/** Kinds of message on the wire. */
export type MessageKind = keyof typeof MESSAGE_TYPES;

interface Base<K extends MessageKind> {
  /**
   * protocol version, 1 or 2; a receiver accepts `MIN_PROTOCOL_VERSION` to `PROTOCOL_VERSION` (N
   * and N−1). Agents send {@link PROTOCOL_VERSION}. A controller sends a command or cancel as 1
   * unless it carries a field of 2 (`transfer`, `stdin`), so that an agent still at 1 runs plain
   * commands and refuses file transfers (code `protocol_version`) rather than misreading them.
   */
  v: number;
  kind: K;
}

/** Controller → agent: run `command` once on `host`. Published to the command exchange, key = host. */
export interface CommandMessage extends Base<'command'> {
  /** unique per (task, host); the AMQP correlation_id and the agent's dedup key */
  invocationId: string;
  taskId: string;
  /** the host this command is for; an agent refuses a command for another host */
  host: string;
  /**
   * the installation's namespace it was issued in; an agent refuses a command for another namespace
   * (a copy replayed into another installation whose agents trust the same controller key). Added
   * to protocol 1 with `agentKeyId`, both required: an agent refuses a command without them as
   * `malformed` (a controller from before them), and an older agent ignores them, so controllers
   * are upgraded first.
   */
  namespace: string;
  /**
   * fingerprint (`SHA256:…`) of the agent key the controller accepted for `host`; an agent refuses a
   * command addressed to another key (a copy replayed after its state directory, so its key, was wiped)
   */
  agentKeyId: string;
  /** run as `/bin/sh -c <command>` */
  command: string;
  /** user to run it as; null = the agent policy's default user */
  runAs: string | null;
  /** working directory; null = the agent's own */
  cwd: string | null;
  /** added to the agent's base environment */
  env: Record<string, string>;
  /** ms; the agent kills the whole process group after this */
  timeoutMs: number;
  /** ms; between SIGTERM and SIGKILL of the process group */
  killGraceMs: number;
  /** ms since epoch; when the controller published it */
  issuedAt: number;
  /** ms since epoch; the agent never starts it after this (issuedAt + delivery timeout) */
  expiresAt: number;
  /** routing key on the replies exchange for this command's replies (signed, unlike the AMQP reply_to) */
  replyTo: string;
  /** false: send no live output chunks, only the result (absent: stream, as before this field) */
  live?: boolean;
  /**
   * protocol 2: a file transfer instead of a shell command (`command` is then only its description
   * for logs, e.g. `put /etc/motd`, and is never run); see `files.ts`
   */
  transfer?: Transfer;
  /** protocol 2: bytes fed to the command's standard input, carried like a put (see `files.ts`) */
  stdin?: FileManifest;
}

/**
 * Agent → controller: the command is about to run (it was journaled and acked). An agent publishes
 * it and waits for the broker's confirm *before* it spawns the command, so that a command that may
 * have run is always known to the controller, even if it takes its agent down at once.
 */
export interface StartedMessage extends Base<'started'> {
  invocationId: string;
  taskId: string;
  host: string;
  /** ms since epoch */
  startedAt: number;
  /** pid of the `/bin/sh` leading the process group; null when sent before the spawn (as agents now do) */
  pid: number | null;
}

/**
 * One captured output stream: the first bytes the command wrote to it, exactly, up to the agent's
 * cap, and how many it wrote in all. `data` carries those kept bytes either as UTF-8 text (no
 * `encoding`) or as their base64 (`encoding: 'base64'`); the agent sends text only when the kept
 * bytes are valid UTF-8 and the text is no longer on the wire than base64 would be (see
 * `encodeCapture`), so that two captures at the 4 MiB cap always fit one reply. Agents before
 * exact capture sent only `data` (text, invalid sequences replaced), `bytes` and `truncated`.
 */
export interface OutputCapture {
  /** the kept bytes: as UTF-8 text, or their base64 when `encoding` is `base64` */
  data: string;
  /** how `data` holds the kept bytes; absent: UTF-8 text */
  encoding?: 'base64';
  /**
   * whether the kept bytes are UTF-8: valid UTF-8, or (when `truncated`) valid UTF-8 followed by
   * the first 1–3 bytes of a character the cap cut; absent from agents before exact capture
   * (their text had invalid sequences replaced: whether it was UTF-8 is unknown)
   */
  utf8?: boolean;
  /** bytes the command wrote to this stream in all */
  bytes: number;
  /** true when `bytes` exceeds what `data` holds */
  truncated: boolean;
}

/** How one invocation ended, as the agent reports it: a `result` message without its ids. */
export interface InvocationOutcome {
  state: AgentResultState;
  /** null when killed by a signal or never started */
  exitCode: number | null;
  /** e.g. `SIGKILL`; null when the process exited */
  signal: string | null;
  stdout: OutputCapture;
  stderr: OutputCapture;
  /** ms since epoch; null when it never started */
  startedAt: number | null;
  /** ms since epoch */
  finishedAt: number;
  /** ms; null when it never started */
  durationMs: number | null;
  /** why it was rejected, errored, timed out or cancelled; null otherwise */
  reason: string | null;
}

/**
 * Why an agent refused a message. The first five mean the agent could not trust what it read, so
 * the ids it names are only claims; the controller records them in the audit log and changes no
 * invocation for them. `protocol_version`: a trusted controller signed it, but in a protocol
 * version this agent does not accept (the reason names both: `controller speaks protocol 2; this
 * agent accepts 1 to 2`); upgrade the agent.
 */
export const REJECT_CODES = [
  'oversized',
  'malformed',
  'unsigned',
  'untrusted_key',
  'bad_signature',
  'wrong_host',
  'wrong_namespace',
  'wrong_key',
  'expired',
  'not_yet_valid',
  'replay',
  'policy',
  'protocol_version',
] as const;
export type RejectCode = (typeof REJECT_CODES)[number];

/** Reject codes given before the signature was verified: the message's ids cannot be trusted. */
export const UNVERIFIED_REJECT_CODES: readonly RejectCode[] = [
  'oversized',
  'malformed',
  'unsigned',
  'untrusted_key',
  'bad_signature',
];

/** Agent → controller: the terminal outcome of one invocation. */
export interface ResultMessage extends Base<'result'>, InvocationOutcome {
  invocationId: string;
  taskId: string;
  host: string;
  /** set when `state` is `rejected`: why, as a code (the `reason` says it in words) */
  code?: RejectCode;
  /** protocol 2: the file of a put, get or stdin invocation that succeeded */
  file?: ResultFile;
}

/** Agent → everyone: a heartbeat (`online`) every `intervalMs`, and `goodbye` on clean shutdown. */
export interface PresenceMessage extends Base<'presence'> {
  host: string;
  status: 'online' | 'goodbye';
  labels: Record<string, string>;
  /** Warren version of the agent */
  version: string;
  /** invocations running now */
  running: number;
  /** most invocations it runs at once */
  concurrency: number;
  /** ms; the next heartbeat is due within this */
  intervalMs: number;
  /** ms since epoch */
  sentAt: number;
  /** the agent's Ed25519 public key (base64 SPKI DER); it signs its replies and heartbeats with it */
  publicKey: string;
}

/**
 * Agent → controller: a piece of a running command's output, for live streaming. Chunks are
 * batched (not one per write) and stop at the output cap; the `result` still carries the whole
 * captured output, so a missed chunk loses nothing that is stored.
 */
export interface OutputMessage extends Base<'output'> {
  invocationId: string;
  taskId: string;
  host: string;
  stream: 'stdout' | 'stderr';
  /** per invocation, from 0, across both streams: the order the agent read them in */
  seq: number;
  /**
   * byte offset of `data` in its stream's UTF-8 text as the agent decodes it (the raw byte offset
   * when the output is valid UTF-8): the chunks of a stream, joined, are the result's `data`, so a
   * reader who missed chunks takes the rest of the text from the result at this offset
   */
  offset: number;
  /** UTF-8 text, cut on character boundaries */
  data: string;
}

/**
 * Controller → agent, on the control exchange (never queued behind commands): cancel these
 * invocations of a task on `host`. Signed like a command. A running one is killed (process group:
 * SIGTERM, SIGKILL after its grace) and ends `cancelled`; one not yet started never starts, even if
 * its command arrives after the cancel (the agent remembers the ids until `expiresAt`).
 */
export interface CancelMessage extends Base<'cancel'> {
  taskId: string;
  host: string;
  /** namespace it was issued in; as on a command, an agent refuses another namespace's */
  namespace: string;
  /** fingerprint of the agent key the controller accepts for `host` now; as on a command, an agent refuses another key's */
  agentKeyId: string;
  invocationIds: string[];
  /** who asked, for the agent's log and the `cancelled` reason */
  requestedBy: string;
  /** ms since epoch */
  issuedAt: number;
  /** ms since epoch; the last moment one of the commands could still arrive (their expiry) */
  expiresAt: number;
  /** routing key of the `cancelled` results on the replies exchange */
  replyTo: string;
}

/**
 * Agent → controller, from an agent that restarted: it had journaled this invocation and sent its
 * `started` (so it may have run), then stopped before it saw the command end; it will never run it
 * again and cannot say how it ended. The controller makes it `lost` with this reason, whatever it
 * had guessed (`pending`, `undelivered`, or cancelled before it started). Added to protocol 1 as a
 * new kind: a controller that predates it drops it as an unexpected kind and keeps its deadline.
 */
export interface InterruptedMessage extends Base<'interrupted'> {
  invocationId: string;
  taskId: string;
  host: string;
  /** ms since epoch: when the restarted agent found it in its journal */
  reportedAt: number;
  /** one line, for the invocation's reason */
  reason: string;
}

/** Agent → controller, protocol 2: send me the chunks of a put or stdin (see `FileRequest`). */
export interface ReadyMessage extends Base<'ready'>, FileRequest {}

/**
 * Agent → controller, protocol 2: one chunk of a file a get invocation reads, published to the
 * command's `transfer.chunkReplyTo` and signed like every reply. Chunks go in order; the agent sends
 * its `result` (with the file's size and SHA-256) only once the broker confirmed them all.
 */
export interface FileChunkMessage extends Base<'fileChunk'> {
  invocationId: string;
  taskId: string;
  host: string;
  /** from 0; every chunk but the last holds `FILE_CHUNK_BYTES` bytes */
  index: number;
  /** the chunk's bytes, base64 */
  data: string;
}

/** What an agent sends back on the replies exchange. */
export type ReplyMessage = StartedMessage | ResultMessage | OutputMessage | InterruptedMessage | ReadyMessage;

/** Any Warren message. */
export type WarrenMessage =
  | CommandMessage
  | StartedMessage
  | ResultMessage
  | PresenceMessage
  | OutputMessage
  | CancelMessage
  | InterruptedMessage
  | ReadyMessage
  | FileChunkMessage;
