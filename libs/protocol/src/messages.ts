import type { AgentResultState } from './states';
import type { PROTOCOL_VERSION } from './version';

/** AMQP `type` property of each message kind. */
export const MESSAGE_TYPES = {
  command: 'warren.command',
  started: 'warren.started',
  result: 'warren.result',
  presence: 'warren.presence',
} as const;

/** Kinds of message on the wire. */
export type MessageKind = keyof typeof MESSAGE_TYPES;

interface Base<K extends MessageKind> {
  /** protocol version, always {@link PROTOCOL_VERSION} */
  v: typeof PROTOCOL_VERSION;
  kind: K;
}

/** Controller → agent: run `command` once on `host`. Published to the command exchange, key = host. */
export interface CommandMessage extends Base<'command'> {
  /** unique per (task, host); the AMQP correlation_id and the agent's dedup key */
  invocationId: string;
  taskId: string;
  /** the host this command is for; an agent refuses a command for another host */
  host: string;
  /** run as `/bin/sh -c <command>` */
  command: string;
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
}

/** Agent → controller: the command is about to run (it was journaled and acked). */
export interface StartedMessage extends Base<'started'> {
  invocationId: string;
  taskId: string;
  host: string;
  /** ms since epoch */
  startedAt: number;
  /** pid of the `/bin/sh` leading the process group */
  pid: number;
}

/** One captured output stream. `data` holds at most the agent's cap; `bytes` is the true total. */
export interface OutputCapture {
  /** UTF-8 decoded (invalid sequences replaced), at most the cap in bytes */
  data: string;
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

/** Agent → controller: the terminal outcome of one invocation. */
export interface ResultMessage extends Base<'result'>, InvocationOutcome {
  invocationId: string;
  taskId: string;
  host: string;
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
}

/** What an agent sends back on the replies exchange. */
export type ReplyMessage = StartedMessage | ResultMessage;

/** Any Warren message. */
export type WarrenMessage = CommandMessage | StartedMessage | ResultMessage | PresenceMessage;
