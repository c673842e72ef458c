import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CHUNK_HEADERS,
  FILE_CHUNK_BYTES,
  type FileChunkMessage,
  type FileManifest,
  type ReplyMessage,
} from '@warren/protocol';
import { SystemClock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, beforeEach } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { AgentConfig } from '../config/agent.config';
import type { PolicyGrant } from '../policy/policy.types';
import { ChunkRouter } from './chunk.router';
import type { TransferDeps, TransferIds } from './transfer.common';

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The chunks of `bytes`, as the controller cuts them. */
export function chunksOf(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += FILE_CHUNK_BYTES) out.push(bytes.subarray(i, i + FILE_CHUNK_BYTES));
  return out;
}

/** The manifest of `bytes`, as the controller signs it. */
export function manifestOf(bytes: Buffer): FileManifest {
  return {
    sha256: sha256(bytes),
    size: bytes.length,
    chunkSize: FILE_CHUNK_BYTES,
    chunks: chunksOf(bytes).map(sha256),
  };
}

/** `n` random bytes. */
export const randomFile = (n: number) => randomBytes(n);

/** A delivery of the chunk queue, recording its ack. */
export class FakeChunk {
  acked = 0;
  readonly properties: { headers: Record<string, unknown> };
  constructor(
    readonly content: Buffer,
    task: string,
    file: string,
    index: number,
  ) {
    this.properties = {
      headers: { [CHUNK_HEADERS.task]: task, [CHUNK_HEADERS.file]: file, [CHUNK_HEADERS.index]: index },
    };
  }
  ack(): void {
    this.acked++;
  }
}

/** A grant as the policy gives it: root, 10 s. */
export function grantOf(over: Partial<PolicyGrant> = {}): PolicyGrant {
  return {
    ok: true,
    user: 'root',
    uid: 0,
    gid: 0,
    home: '/root',
    shell: '/bin/sh',
    timeoutMs: 10_000,
    maxOutputBytes: 4096,
    maxProcesses: null,
    note: null,
    ...over,
  };
}

/**
 * Transfer deps over a temp dir: a chunk router (fed by {@link feed}), replies recorded, temp
 * paths journaled in memory, a 300 ms idle timeout. Set up and torn down around each test.
 */
export class TransferHarness {
  dir = '';
  sent: ReplyMessage[] = [];
  chunkReplies: { message: FileChunkMessage; routingKey: string }[] = [];
  temps: string[] = [];
  router!: ChunkRouter;
  deps!: TransferDeps;
  /** false: a `sendChunk` the broker refuses */
  chunkOk = true;
  readonly ids: TransferIds = { invocationId: 'inv-1', taskId: 't_1', host: 'web1', replyTo: 'ns.results' };

  setUp = (): void => {
    this.dir = mkdtempSync(join(tmpdir(), 'warren-transfer-'));
    this.sent = [];
    this.chunkReplies = [];
    this.temps = [];
    this.chunkOk = true;
    const log = pino({ level: 'silent' });
    this.router = new ChunkRouter({ namespace: 'ns', host: 'web1' } as AgentConfig, {} as BrokerService, log);
    this.deps = {
      journal: { recordTemp: (_id, path) => void this.temps.push(path) },
      chunks: this.router,
      replies: {
        sendConfirmed: (m) => {
          this.sent.push(m as ReplyMessage);
          return Promise.resolve(true);
        },
        sendChunk: (message, routingKey) => {
          this.chunkReplies.push({ message, routingKey });
          return new Promise((r) => setImmediate(() => r(this.chunkOk)));
        },
      },
      clock: new SystemClock(),
      log,
      stateDir: join(this.dir, 'state'),
      idleMs: 300,
    };
  };

  tearDown = (): void => {
    rmSync(this.dir, { recursive: true, force: true });
  };

  /** Delivers chunk `index` (body `bytes`) of file `file` for task `task` through the router; resolves once acked. */
  feed = async (bytes: Buffer, index: number, file: string, task = 't_1'): Promise<FakeChunk> => {
    const d = new FakeChunk(bytes, task, file, index);
    await this.router.handle(d as never);
    return d;
  };

  /** the `ready` replies sent so far */
  readies = () => this.sent.filter((m) => m.kind === 'ready');
}

export function useTransferHarness(): TransferHarness {
  const h = new TransferHarness();
  beforeEach(h.setUp);
  afterEach(h.tearDown);
  return h;
}
