import { randomBytes } from 'node:crypto';
import { captureBytes, captureText, decodeReply, encode, encodeCapture } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { fitReply, refusedMessage, replyRoute, resultMessage, startedMessage } from './reply.builder';

const ids = { invocationId: 'inv-1', taskId: 't_1', host: 'web1' };

describe('reply messages', () => {
  it('builds started, result and refused replies the protocol accepts', () => {
    expect(decodeReply(encode(startedMessage(ids, 1000, 42)))).toMatchObject({
      ok: true,
      message: { kind: 'started', pid: 42, ...ids },
    });
    const result = resultMessage(ids, {
      state: 'failed',
      exitCode: 3,
      signal: null,
      stdout: { data: 'hi\n', bytes: 3, truncated: false },
      stderr: { data: '', bytes: 0, truncated: false },
      startedAt: 1000,
      finishedAt: 1010,
      durationMs: 10,
      reason: null,
    });
    expect(decodeReply(encode(result))).toEqual({ ok: true, message: result });
    const refused = refusedMessage(ids, 'rejected', 'expired before it could start', 5);
    expect(decodeReply(encode(refused))).toMatchObject({
      ok: true,
      message: { state: 'rejected', startedAt: null, durationMs: null, finishedAt: 5 },
    });
  });

  it('cuts output that would make a reply exceed the limit to an exact prefix, keeping the true byte count', () => {
    const random = randomBytes(100_000);
    const big = refusedMessage(ids, 'error', 'x', 5);
    const msg = {
      ...big,
      stdout: encodeCapture(random, 100_000),
      stderr: encodeCapture(Buffer.from('é'.repeat(50_000)), 100_000),
    };
    const fitted = fitReply(msg, 200_000);
    expect(encode(fitted).length).toBeLessThanOrEqual(200_000);
    expect(fitted.stdout).toMatchObject({ bytes: 100_000, truncated: true, utf8: false });
    const kept = captureBytes(fitted.stdout);
    expect(kept.length).toBeLessThan(100_000);
    expect(kept.equals(random.subarray(0, kept.length))).toBe(true);
    expect(captureText(fitted.stderr)).toMatch(/^é*$/); // a character cut in two is not shown
    expect(decodeReply(encode(fitted)).ok).toBe(true);
    expect(fitReply(big, 200_000)).toBe(big);
  });

  it('never needs to cut two captures at the 4 MiB cap, whatever they hold', () => {
    const cap = 4 * 1024 * 1024;
    const worst = refusedMessage(ids, 'failed' as never, '\u0001'.repeat(4096), 5);
    const msg = {
      ...worst,
      stdout: encodeCapture(Buffer.alloc(cap, 1), cap + 1), // text JSON would escape sixfold
      stderr: encodeCapture(randomBytes(cap), cap + 1),
    };
    expect(fitReply(msg)).toBe(msg);
    expect(decodeReply(encode(msg)).ok).toBe(true);
  });

  it('routes replies to a plausible reply_to only', () => {
    expect(replyRoute('warren.results')).toBe('warren.results');
    expect([replyRoute(''), replyRoute(undefined), replyRoute(7), replyRoute('x'.repeat(256))]).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });
});
