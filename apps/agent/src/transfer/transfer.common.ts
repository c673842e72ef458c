import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { PROTOCOL_VERSION, type ReadyMessage, type ResultFile, type FileChunkMessage } from '@warren/protocol';
import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { EMPTY_CAPTURE } from '../exec/output.capture';
import type { RunHandle, RunOutcome } from '../exec/run.types';
import type { InvocationJournal } from '../journal/invocation.journal';
import type { ReplyPublisher } from '../inbox/reply.publisher';
import type { ChunkRegistry } from './chunk.router';
import type { ChunkWriter } from './file.receiver';

/** What the transfer executors need from the agent. */
export interface TransferDeps {
  /** where temp paths are journaled before the first byte is written */
  journal: Pick<InvocationJournal, 'recordTemp'>;
  chunks: ChunkRegistry;
  replies: Pick<ReplyPublisher, 'sendConfirmed' | 'sendChunk'>;
  clock: Clock;
  log: Logger;
  /** the agent's state directory: stdin files go to `<stateDir>/stdin/<invocationId>` */
  stateDir: string;
  /** ms without a chunk before a receiving invocation fails; default `CHUNK_IDLE_MS` */
  idleMs?: number;
  /** tests: wraps the writer of each received file (to inject a write error such as ENOSPC) */
  wrapWriter?: (w: ChunkWriter) => ChunkWriter;
}

/** Who an invocation is and where its replies go. */
export interface TransferIds {
  invocationId: string;
  taskId: string;
  host: string;
  replyTo: string;
}

/** A run that spawns nothing (a put or a get): it ends in an outcome, and can be cancelled. */
export function transferHandle(
  startedAt: number,
  outcome: Promise<RunOutcome>,
  cancel: (r: string) => void,
): RunHandle {
  return { pid: null, startedAt, cgroup: null, outcome, cancel };
}

/** The outcome of a transfer: `succeeded` with its `file`, or another state with its reason. */
export function transferOutcome(
  state: RunOutcome['state'],
  startedAt: number,
  finishedAt: number,
  extra: { reason?: string | null; file?: ResultFile },
): RunOutcome {
  return {
    state,
    exitCode: null,
    signal: null,
    stdout: EMPTY_CAPTURE,
    stderr: EMPTY_CAPTURE,
    startedAt,
    finishedAt,
    durationMs: finishedAt - startedAt,
    reason: extra.reason ?? null,
    ...(extra.file && { file: extra.file }),
  };
}

/** The `ready` reply: send me the chunks of the file `sha256` (the manifest's) for this invocation. */
export function readyMessage(ids: TransferIds, sha256: string): ReadyMessage {
  return {
    v: PROTOCOL_VERSION,
    kind: 'ready',
    invocationId: ids.invocationId,
    taskId: ids.taskId,
    host: ids.host,
    sha256,
  };
}

/** One `fileChunk` reply of a get. */
export function fileChunkMessage(ids: TransferIds, index: number, bytes: Buffer): FileChunkMessage {
  return {
    v: PROTOCOL_VERSION,
    kind: 'fileChunk',
    invocationId: ids.invocationId,
    taskId: ids.taskId,
    host: ids.host,
    index,
    data: bytes.toString('base64'),
  };
}

/** Lowercase hex SHA-256 of the file at `path` (streamed). Rejects with the errno error. */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (b) => h.update(b))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Lowercase hex SHA-256 of the whole file open as `fh` (read from offset 0, 1 MiB at a time). */
export async function hashHandle(fh: FileHandle): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1024 * 1024);
  for (let pos = 0; ;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) return h.digest('hex');
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

/**
 * `invocationId` as a file name component: itself when it is one (letters, digits, `.`, `_`, `-`,
 * not starting with `.`), else its SHA-256 (hex, 32 characters). The id is signed, but a name
 * with `/` must never steer a temp file out of its directory.
 */
export function fileSafeId(invocationId: string): string {
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/.test(invocationId)
    ? invocationId
    : createHash('sha256').update(invocationId).digest('hex').slice(0, 32);
}

/** Makes a rename or create in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
