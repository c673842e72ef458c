import { decodeReply, encode } from '@warren/protocol';
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

  it('cuts output that would make a reply exceed the limit, keeping the true byte count', () => {
    const nul = '\u0000'.repeat(100_000); // 6 bytes each once JSON-escaped
    const big = refusedMessage(ids, 'error', 'x', 5);
    const msg = {
      ...big,
      stdout: { data: nul, bytes: 100_000, truncated: false },
      stderr: { data: 'é'.repeat(50_000), bytes: 100_000, truncated: false },
    };
    const fitted = fitReply(msg, 200_000);
    expect(encode(fitted).length).toBeLessThanOrEqual(200_000);
    expect(fitted.stdout).toMatchObject({ bytes: 100_000, truncated: true });
    expect(fitted.stdout.data.length).toBeLessThan(100_000);
    expect(fitted.stderr.data).toMatch(/^é*$/); // never cut inside a character
    expect(fitReply(big, 200_000)).toBe(big);
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
