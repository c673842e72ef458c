import { StringDecoder } from 'node:string_decoder';
import { type OutputMessage, PROTOCOL_VERSION } from '@warren/protocol';
import { type Clock, SystemClock } from '@warren/runtime';
import type { ReplyIds } from './reply.builder';

type StreamName = 'stdout' | 'stderr';
const STREAMS: readonly StreamName[] = ['stdout', 'stderr'];

/** One piece of live output ready to send: an `output` message without its ids. */
export interface OutputChunk {
  stream: StreamName;
  /** per invocation, from 0, across both streams */
  seq: number;
  /** bytes of this stream's UTF-8 text sent before `data` */
  offset: number;
  data: string;
}

/** Options of {@link OutputStreamer}. */
export interface OutputStreamerOptions {
  /** ms; how long output waits to be batched with what follows it */
  flushMs: number;
  /** bytes of UTF-8 in one chunk at most; this much pending is sent at once, without waiting */
  maxChunkBytes: number;
  /** hands one chunk to the publisher; must not throw */
  send(chunk: OutputChunk): void;
  /** where the time of the last send is read; default the system clock */
  clock?: Clock;
}

/** Defaults: at most ten chunks a second per invocation, each at most 16 KiB (a fraction of the protocol's limit). */
export const STREAM_DEFAULTS = { flushMs: 100, maxChunkBytes: 16 * 1024 } as const;

/**
 * Turns a run's captured output into live `output` chunks: the first read after a quiet spell at
 * once, then batched (everything read within `flushMs` of a send goes out together, so a command
 * writing a byte at a time costs at most ten messages a second), cut on UTF-8 character boundaries, numbered (`seq`) in the order read across both
 * streams, and placed by `offset` in the UTF-8 text of their stream.
 *
 * It is fed only what the capture keeps, so it stops at the output cap, and it decodes exactly as
 * the capture does: the chunks of a stream, joined, are the result's `data` of that stream. That is
 * what lets a watcher who missed chunks complete the text from the result without repeating any.
 */
export class OutputStreamer {
  private readonly decoders: Record<StreamName, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  private readonly offsets: Record<StreamName, number> = { stdout: 0, stderr: 0 };
  /** decoded text not yet sent, in the order read; consecutive pieces of one stream merged */
  private pending: { stream: StreamName; text: string }[] = [];
  private pendingBytes = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  /** ms since epoch of the last send; -Infinity before the first */
  private lastFlush = -Infinity;
  private ended = false;
  private readonly clock: Clock;

  constructor(private readonly opts: OutputStreamerOptions) {
    this.clock = opts.clock ?? new SystemClock();
    // The longest UTF-8 character must fit a chunk, or cutting could not make progress.
    if (opts.maxChunkBytes < 4) throw new RangeError(`maxChunkBytes must be at least 4, got ${opts.maxChunkBytes}`);
  }

  /** Chunks sent so far. */
  get sent(): number {
    return this.seq;
  }

  /** What the capture kept of one read from `stream`. */
  push(stream: StreamName, bytes: Buffer): void {
    if (this.ended) return;
    this.add(stream, this.decoders[stream].write(bytes));
    if (this.pendingBytes >= this.opts.maxChunkBytes) return this.flush();
    if (this.pendingBytes === 0 || this.timer) return;
    // The first output after a quiet spell goes at once (the first line's latency is what a watcher
    // feels); what follows within flushMs waits to go with it in the next chunk.
    const wait = this.lastFlush + this.opts.flushMs - this.clock.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /**
   * Sends what is left; call it when the run has ended and before its result is sent. A stream
   * that was truncated drops a character the cap cut in two, as the capture does; one that was
   * not ends with a replacement character for an incomplete last sequence, as the capture does.
   */
  end(truncated: Record<StreamName, boolean>): void {
    if (this.ended) return;
    for (const s of STREAMS) if (!truncated[s]) this.add(s, this.decoders[s].end());
    this.flush();
    this.ended = true;
  }

  private add(stream: StreamName, text: string): void {
    if (text === '') return;
    const last = this.pending[this.pending.length - 1];
    if (last?.stream === stream) last.text += text;
    else this.pending.push({ stream, text });
    this.pendingBytes += Buffer.byteLength(text);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.lastFlush = this.clock.now();
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const { stream, text } of pending) {
      for (const data of splitUtf8(text, this.opts.maxChunkBytes)) {
        this.opts.send({ stream, seq: this.seq++, offset: this.offsets[stream], data });
        this.offsets[stream] += Buffer.byteLength(data);
      }
    }
  }
}

/** `text` in pieces of at most `maxBytes` of UTF-8 each, never cutting a character. */
export function splitUtf8(text: string, maxBytes: number): string[] {
  if (Buffer.byteLength(text) <= maxBytes) return [text];
  const buf = Buffer.from(text, 'utf8');
  const parts: string[] = [];
  let start = 0;
  while (start < buf.length) {
    let end = Math.min(start + maxBytes, buf.length);
    // Back off continuation bytes (10xxxxxx) so the cut falls before a character's first byte.
    if (end < buf.length) while ((buf[end] & 0xc0) === 0x80) end--;
    parts.push(buf.toString('utf8', start, end));
    start = end;
  }
  return parts;
}

/** The `output` message of one chunk. */
export function outputMessage(ids: ReplyIds, c: OutputChunk): OutputMessage {
  return {
    v: PROTOCOL_VERSION,
    kind: 'output',
    invocationId: ids.invocationId,
    taskId: ids.taskId,
    host: ids.host,
    stream: c.stream,
    seq: c.seq,
    offset: c.offset,
    data: c.data,
  };
}
