import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64Length, captureBytes, captureText, encodeCapture, isCaptureUtf8 } from './capture';
import { decodeReply, encode } from './codec';
import type { OutputCapture, ResultMessage } from './messages';

const result = (stdout: unknown, stderr: unknown = { data: '', bytes: 0, truncated: false }) =>
  ({
    v: 1,
    kind: 'result',
    invocationId: 'i',
    taskId: 't',
    host: 'h',
    state: 'succeeded',
    exitCode: 0,
    signal: null,
    stdout,
    stderr,
    startedAt: 1,
    finishedAt: 2,
    durationMs: 1,
    reason: null,
  }) as ResultMessage;

/** The capture as the controller reads it from the wire. */
function throughWire(c: OutputCapture): OutputCapture {
  const decoded = decodeReply(encode(result(c)));
  if (!decoded.ok) throw new Error(decoded.reason);
  return (decoded.message as ResultMessage).stdout;
}

describe('output captures on the wire', () => {
  it('carries random bytes exactly, as base64, and says they are not UTF-8', () => {
    for (let i = 0; i < 50; i++) {
      const kept = randomBytes(4096);
      const c = throughWire(encodeCapture(kept, 4096));
      expect(c).toMatchObject({ encoding: 'base64', utf8: false, bytes: 4096, truncated: false });
      expect(captureBytes(c).equals(kept)).toBe(true);
    }
  });

  it('carries UTF-8 as text, exactly, a BOM and NULs included', () => {
    const kept = Buffer.from('\uFEFFhé €𝄞 \u0000 line\n', 'utf8');
    const c = throughWire(encodeCapture(kept, kept.length));
    expect(c).toEqual({ data: kept.toString('utf8'), utf8: true, bytes: kept.length, truncated: false });
    expect(captureBytes(c).equals(kept)).toBe(true);
  });

  it('sends text that JSON would escape to more than base64 as base64, still UTF-8', () => {
    const kept = Buffer.alloc(3000, 1); // \u0001: six bytes each in JSON
    const c = encodeCapture(kept, kept.length);
    expect(c).toMatchObject({ encoding: 'base64', utf8: true });
    expect(encode(result(c)).length).toBeLessThan(base64Length(3000) + 400);
    expect(captureText(throughWire(c))).toBe('\u0001'.repeat(3000));
  });

  it('picks text exactly when its JSON string is no longer than base64, as JSON.stringify measures it', () => {
    const alphabet = [...'ab"\\\b\t\n\u000b\f\r\u0000\u001f\u007fé'];
    for (let i = 0; i < 500; i++) {
      const kept = Buffer.from(
        Array.from({ length: 1 + (i % 40) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join(''),
      );
      const asJson = Buffer.byteLength(JSON.stringify(kept.toString('utf8'))) - 2;
      expect(encodeCapture(kept, kept.length).encoding === undefined).toBe(asJson <= base64Length(kept.length));
    }
  });

  it('keeps a character the cap cut as bytes, counts the stream UTF-8, and drops it from the text', () => {
    const kept = Buffer.concat([Buffer.from('abcé'), Buffer.from('€').subarray(0, 1)]); // 5 bytes, € cut
    const c = throughWire(encodeCapture(kept, 12));
    expect(c).toMatchObject({ encoding: 'base64', utf8: true, bytes: 12, truncated: true });
    expect(captureBytes(c).equals(kept)).toBe(true);
    expect(captureText(c)).toBe('abcé');
  });

  it('judges a truncated prefix on the prefix: invalid bytes before the cut, or a tail no character starts with, are not UTF-8', () => {
    expect(isCaptureUtf8(Buffer.from([0x61, 0xe2, 0x82]), true)).toBe(true);
    expect(isCaptureUtf8(Buffer.from([0x61, 0xe2, 0x82]), false)).toBe(false); // the command wrote it so
    expect(isCaptureUtf8(Buffer.from([0x61, 0xff, 0x62, 0xe2]), true)).toBe(false);
    expect(isCaptureUtf8(Buffer.from([0x61, 0xe0, 0x80]), true)).toBe(false); // E0 80: an overlong start
    expect(isCaptureUtf8(Buffer.from([0x61, 0xed, 0xa0]), true)).toBe(false); // ED A0: a surrogate
  });

  it('shows invalid bytes as replacement characters in the text, as the agent always did', () => {
    const c = encodeCapture(Buffer.from([0x61, 0xff, 0x62]), 3);
    expect(c).toMatchObject({ utf8: false, encoding: 'base64' });
    expect(captureText(c)).toBe('a\uFFFDb');
  });

  it('still decodes the captures of an agent before exact capture: text, UTF-8 unknown', () => {
    const old = { data: 'a\uFFFDb', bytes: 3, truncated: false };
    const c = throughWire(old);
    expect(c).toEqual(old);
    expect(c.utf8).toBeUndefined();
    expect(captureText(c)).toBe('a\uFFFDb');
    expect(captureBytes(c).equals(Buffer.from('a\uFFFDb'))).toBe(true);
  });

  it.each([
    [{ data: 'YQ==', encoding: 'hex', utf8: true, bytes: 1, truncated: false }, /encoding must be base64 or absent/],
    [{ data: 'YQ==', encoding: 'base64', bytes: 1, truncated: false }, /utf8 must be a boolean when encoding/],
    [{ data: 'YQ==', encoding: 'base64', utf8: 'yes', bytes: 1, truncated: false }, /utf8 must be a boolean/],
    [{ data: 'Y Q==', encoding: 'base64', utf8: false, bytes: 1, truncated: false }, /not canonical base64/],
    [{ data: 'YQ=', encoding: 'base64', utf8: false, bytes: 1, truncated: false }, /not canonical base64/],
    [{ data: 'YWJj', encoding: 'base64', utf8: true, bytes: 2, truncated: false }, /holds 3 bytes, more than bytes/],
    [{ data: 'YWJj', encoding: 'base64', utf8: true, bytes: 9, truncated: false }, /truncated must be true/],
    [{ data: 'abc', utf8: true, bytes: 3, truncated: true }, /truncated must be false/],
    [{ data: 'a\uFFFDb', utf8: false, bytes: 3, truncated: false }, /utf8 is false but data is text/],
  ])('refuses a malformed capture, never throwing: %j', (capture, reason) => {
    const decoded = decodeReply(encode(result(capture)));
    expect(decoded).toMatchObject({ ok: false, reason: expect.stringMatching(reason) });
  });
});
