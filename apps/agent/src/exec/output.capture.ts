import { encodeCapture, type OutputCapture } from '@warren/protocol';

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
   * The capture as reported: the first bytes of the stream exactly, up to the cap (a multi-byte
   * character the cap cut keeps its first bytes), with whether they are UTF-8, as text or base64
   * (see `encodeCapture` in `@warren/protocol`).
   */
  result(): OutputCapture {
    return encodeCapture(Buffer.concat(this.chunks, this.kept), this.bytes);
  }
}

/** An empty capture, for runs that never started. */
export const EMPTY_CAPTURE: OutputCapture = Object.freeze({ data: '', utf8: true, bytes: 0, truncated: false });
