import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { captureText } from '@warren/protocol';
import { BoundedCapture } from '../exec/output.capture';
import { type OutputChunk, OutputStreamer, splitUtf8 } from './output.streamer';

describe('OutputStreamer', () => {
  let chunks: OutputChunk[];
  const make = (over: Partial<{ flushMs: number; maxChunkBytes: number }> = {}) =>
    new OutputStreamer({ flushMs: 100, maxChunkBytes: 1024, ...over, send: (c) => chunks.push(c) });
  const text = (stream: 'stdout' | 'stderr') =>
    chunks
      .filter((c) => c.stream === stream)
      .map((c) => c.data)
      .join('');

  beforeEach(() => {
    chunks = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('sends the first output at once, then batches what is read within flushMs into one chunk rather than one per write', () => {
    const s = make();
    for (const ch of 'hello\n') s.push('stdout', Buffer.from(ch));
    expect(chunks).toEqual([{ stream: 'stdout', seq: 0, offset: 0, data: 'h' }]);
    vi.advanceTimersByTime(99);
    expect(chunks).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(chunks[1]).toEqual({ stream: 'stdout', seq: 1, offset: 1, data: 'ello\n' });
    vi.advanceTimersByTime(500); // quiet again: the next line goes at once
    s.push('stdout', Buffer.from('again\n'));
    expect(chunks[2]).toEqual({ stream: 'stdout', seq: 2, offset: 6, data: 'again\n' });
  });

  it('sends at most one chunk per flushMs however often the command writes', () => {
    const s = make();
    for (let i = 0; i < 1000; i++) {
      s.push('stdout', Buffer.from('x'));
      vi.advanceTimersByTime(1);
    }
    expect(chunks.length).toBeLessThanOrEqual(11); // one at once, then one per 100 ms
    s.end({ stdout: false, stderr: false });
    expect(chunks.map((c) => c.data).join('')).toBe('x'.repeat(1000));
  });

  it('numbers chunks across both streams in the order read, with byte offsets per stream', () => {
    const s = make();
    s.push('stdout', Buffer.from('a1\n'));
    s.push('stderr', Buffer.from('e1\n'));
    s.push('stdout', Buffer.from('a2\n'));
    vi.advanceTimersByTime(100);
    s.push('stdout', Buffer.from('é\n'));
    s.end({ stdout: false, stderr: false });
    expect(chunks).toEqual([
      { stream: 'stdout', seq: 0, offset: 0, data: 'a1\n' },
      { stream: 'stderr', seq: 1, offset: 0, data: 'e1\n' },
      { stream: 'stdout', seq: 2, offset: 3, data: 'a2\n' },
      { stream: 'stdout', seq: 3, offset: 6, data: 'é\n' },
    ]);
  });

  it('sends at once, in chunks of at most maxChunkBytes, once that much is pending', () => {
    const s = make({ maxChunkBytes: 8 });
    s.push('stdout', Buffer.from('0123456789abcdefXY'));
    expect(chunks.map((c) => [c.data, c.offset])).toEqual([
      ['01234567', 0],
      ['89abcdef', 8],
      ['XY', 16],
    ]);
  });

  it('never cuts a character: neither a write split inside one, nor a chunk at its size limit', () => {
    const s = make({ maxChunkBytes: 5 });
    const euro = Buffer.from('€€€'); // 3 bytes each
    s.push('stdout', euro.subarray(0, 4)); // one € and the first byte of the next
    vi.advanceTimersByTime(100);
    expect(chunks.map((c) => c.data)).toEqual(['€']);
    s.push('stdout', euro.subarray(4));
    s.end({ stdout: false, stderr: false });
    expect(chunks.map((c) => c.data)).toEqual(['€', '€', '€']);
    expect(chunks.map((c) => c.offset)).toEqual([0, 3, 6]);
  });

  it('stops at the cap: fed what the capture keeps, its chunks join to exactly the result, and a cut character is dropped', () => {
    const s = make({ maxChunkBytes: 4 });
    const capture = new BoundedCapture(7);
    const feed = (b: Buffer) => {
      const kept = capture.push(b);
      if (kept) s.push('stdout', kept);
    };
    feed(Buffer.from('ab'));
    feed(Buffer.from('cé€')); // the cap (7 bytes) falls inside €
    feed(Buffer.from('more, never sent'));
    const result = capture.result();
    s.end({ stdout: result.truncated, stderr: false });
    expect(result).toMatchObject({ truncated: true });
    expect(captureText(result)).toBe('abcé');
    expect(text('stdout')).toBe(captureText(result));
    expect(chunks.map((c) => c.data).join('')).not.toContain('more');
  });

  it('ends an untruncated stream with a replacement character for an incomplete last sequence, as the capture does', () => {
    const s = make();
    const capture = new BoundedCapture(100);
    for (const b of [Buffer.from([0x61, 0xff, 0x62]), Buffer.from([0xe2, 0x82])]) s.push('stderr', capture.push(b)!);
    s.end({ stdout: false, stderr: false });
    expect(text('stderr')).toBe(captureText(capture.result()));
    expect(text('stderr')).toBe('a\ufffdb\ufffd');
  });

  it('sends nothing for a silent command, and nothing after end', () => {
    const s = make();
    s.end({ stdout: false, stderr: false });
    s.push('stdout', Buffer.from('late'));
    vi.advanceTimersByTime(1000);
    expect(chunks).toEqual([]);
  });
});

describe('splitUtf8', () => {
  it('cuts into pieces of at most maxBytes on character boundaries', () => {
    const parts = splitUtf8('aé€😀b', 4);
    expect(parts.join('')).toBe('aé€😀b');
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(4);
    expect(parts).toEqual(['aé', '€', '😀', 'b']);
  });
});
