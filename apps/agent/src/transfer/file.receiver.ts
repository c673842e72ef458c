import { createHash } from 'node:crypto';
import type { FileManifest } from '@warren/protocol';

/** ms without a chunk after which a receiving invocation fails ("chunks … not received"). */
export const CHUNK_IDLE_MS = 30_000;

/** Where a receiver writes: `pwrite(2)` of a whole chunk at a byte offset. */
export interface ChunkWriter {
  /** writes all of `bytes` at byte `position`; rejects with the errno error (ENOSPC, EIO...) */
  write(bytes: Buffer, position: number): Promise<void>;
}

/** How receiving ended: every chunk verified and written, or why not. */
export type Received = { ok: true } | { ok: false; state: 'failed' | 'cancelled'; reason: string };

/** Options of {@link FileReceiver}. */
export interface FileReceiverOptions {
  manifest: FileManifest;
  writer: ChunkWriter;
  /** ms without a chunk before it fails; default {@link CHUNK_IDLE_MS} */
  idleMs?: number;
  /** ms from now after which it fails whatever arrives (the invocation's timeout left) */
  deadlineMs: number;
  /** the file's path, named in a write error's reason */
  describe: (err: unknown) => string;
}

/**
 * Receives the chunks of one file for one invocation: each chunk must hash to the manifest's entry
 * for its index (else it fails at once: `chunk <i> does not match the signed manifest`), and is
 * written at `index × chunkSize`; a copy of a chunk already written is verified and skipped.
 * {@link done} settles once every chunk is in, or on the first failure: a bad chunk, a write error,
 * no chunk for `idleMs`, the deadline, or {@link abort}. Never throws; after it settles it takes nothing.
 */
export class FileReceiver {
  readonly done: Promise<Received>;
  private resolve!: (r: Received) => void;
  private readonly have = new Set<number>();
  private readonly expected: number;
  private settled = false;
  private idle: NodeJS.Timeout | undefined;
  private readonly deadline: NodeJS.Timeout;
  /** writes in flight: the last one in completes the file */
  private writing = 0;

  constructor(private readonly opts: FileReceiverOptions) {
    this.done = new Promise((r) => (this.resolve = r));
    this.expected = opts.manifest.chunks.length;
    this.deadline = setTimeout(
      () => this.fail('failed', `chunks ${this.missing()} not received within the invocation's timeout`),
      opts.deadlineMs,
    );
    this.armIdle();
    if (this.expected === 0) this.settle({ ok: true });
  }

  /** Chunks the manifest lists. */
  get expectedChunks(): number {
    return this.expected;
  }

  /** Chunks verified and written so far. */
  get received(): number {
    return this.have.size;
  }

  /** Takes chunk `index`; resolves once it is written (or refused). Never rejects. */
  async accept(index: number, bytes: Buffer): Promise<void> {
    if (this.settled) return;
    this.armIdle();
    const m = this.opts.manifest;
    const want = Number.isInteger(index) && index >= 0 && index < this.expected ? m.chunks[index] : undefined;
    if (want === undefined || createHash('sha256').update(bytes).digest('hex') !== want)
      return this.fail('failed', `chunk ${index} does not match the signed manifest`);
    if (this.have.has(index)) return;
    this.writing++;
    try {
      await this.opts.writer.write(bytes, index * m.chunkSize);
    } catch (err) {
      return this.fail('failed', this.opts.describe(err));
    } finally {
      this.writing--;
    }
    this.have.add(index);
    if (this.have.size === this.expected && this.writing === 0) this.settle({ ok: true });
  }

  /** Stops receiving: `done` settles with `state` and `reason` (if not settled already). */
  abort(state: 'failed' | 'cancelled', reason: string): void {
    this.fail(state, reason);
  }

  private fail(state: 'failed' | 'cancelled', reason: string): void {
    this.settle({ ok: false, state, reason });
  }

  private settle(r: Received): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    clearTimeout(this.deadline);
    this.resolve(r);
  }

  private armIdle(): void {
    if (this.settled) return;
    clearTimeout(this.idle);
    const ms = this.opts.idleMs ?? CHUNK_IDLE_MS;
    this.idle = setTimeout(() => this.fail('failed', `chunks ${this.missing()} not received for ${ms} ms`), ms);
  }

  /** `3-7 of 8`-style summary of the chunks not yet in, for a reason. */
  private missing(): string {
    const gone: number[] = [];
    for (let i = 0; i < this.expected; i++) if (!this.have.has(i)) gone.push(i);
    const shown = gone.slice(0, 5).join(', ');
    return `${shown}${gone.length > 5 ? ', …' : ''} (${gone.length} of ${this.expected})`;
  }
}
