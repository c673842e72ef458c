import { StringDecoder } from 'node:string_decoder';
import type { OutputCapture } from '@warren/protocol';

/**
 * Collects one output stream, keeping at most `capBytes` of it in memory and counting the rest, so
 * that a command printing gigabytes costs the agent no more than the cap.
 */
export class BoundedCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  /** bytes written to the stream in all */
  bytes = 0;

  constructor(private readonly capBytes: number) {}

  /** Adds what the stream read; returns the part kept (null once the cap is reached), for live streaming. */
  push(chunk: Buffer): Buffer | null {
    this.bytes += chunk.length;
    const room = this.capBytes - this.kept;
    if (room <= 0) return null;
    // Copy a partial chunk: a subarray would pin the whole pipe buffer behind it.
    const part = chunk.length <= room ? chunk : Buffer.from(chunk.subarray(0, room));
    this.chunks.push(part);
    this.kept += part.length;
    return part;
  }

  /**
   * The capture as reported: UTF-8 decoded, invalid sequences replaced. When truncated, a
   * multi-byte character cut by the cap is dropped rather than replaced, so `data` is never longer
   * in UTF-8 than the cap.
   */
  result(): OutputCapture {
    const truncated = this.bytes > this.kept;
    const decoder = new StringDecoder('utf8');
    const buf = Buffer.concat(this.chunks, this.kept);
    const data = truncated ? decoder.write(buf) : decoder.write(buf) + decoder.end();
    return { data, bytes: this.bytes, truncated };
  }
}

/** An empty capture, for runs that never started. */
export const EMPTY_CAPTURE: OutputCapture = Object.freeze({ data: '', bytes: 0, truncated: false });
