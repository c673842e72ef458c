import { encode, LIMITS, PROTOCOL_VERSION } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { commandProblem, cwdProblem, envProblem, unrunnableProblem } from './command.rule';

describe('the command, cwd and env rules', () => {
  it('count UTF-8 bytes, as execve(2) does, not UTF-16 characters', () => {
    expect(commandProblem('ｈ'.repeat(21_845) + 'x')).toBeNull(); // 65,536 bytes
    expect(commandProblem('ｈ'.repeat(21_846))).toMatch(/^command is 65538 bytes of UTF-8; at most 65536 bytes/);
    expect(commandProblem('😀'.repeat(16_384))).toBeNull(); // 4 bytes each: 65,536
    expect(commandProblem('😀'.repeat(16_385))).toMatch(/65540 bytes/);
    expect(cwdProblem(`/${'é'.repeat(2047)}`)).toBeNull(); // 4,095 bytes
    expect(cwdProblem(`/${'é'.repeat(2048)}`)).toMatch(/^cwd is 4097 bytes of UTF-8; at most 4095/);
    expect(envProblem({ A: 'x'.repeat(LIMITS.envEntryBytes - 2) })).toBeNull();
    expect(envProblem({ A: 'x'.repeat(LIMITS.envEntryBytes - 1) })).toMatch(/^env: A=value is 131072 bytes/);
  });

  it('refuse a NUL anywhere, and a cwd that is not absolute, naming the field given', () => {
    expect(commandProblem('a\u0000b', 'line')).toMatch(/^line must not contain a NUL/);
    expect(cwdProblem('./x', '--cwd')).toBe('--cwd must be an absolute path (starting with /), got "./x"');
    expect(envProblem({ A: 'a\u0000' }, '--env')).toBe('--env: value of A must not contain a NUL character');
    expect(unrunnableProblem({ command: 'true', cwd: null, env: {} })).toBeNull();
  });

  it('allow nothing whose command message would be over the size the agent reads', () => {
    // the worst case for JSON: control characters, 6 bytes each once escaped
    const env = Object.fromEntries(
      Array.from({ length: 4 }, (_, i) => [`V${i}`, '\u0001'.repeat(LIMITS.envTotalBytes / 4 - 4)]),
    );
    const c = { command: '\u0001'.repeat(LIMITS.commandBytes), cwd: `/${'\u0001'.repeat(LIMITS.cwdBytes - 1)}`, env };
    expect(unrunnableProblem(c)).toBeNull();
    const message = encode({
      v: PROTOCOL_VERSION,
      kind: 'command',
      invocationId: 'i'.repeat(128),
      taskId: 't'.repeat(128),
      host: 'h'.repeat(63),
      namespace: 'n'.repeat(63),
      agentKeyId: 'k'.repeat(128),
      ...c,
      timeoutMs: LIMITS.maxTimeoutMs,
      killGraceMs: LIMITS.maxKillGraceMs,
      runAs: 'u'.repeat(32),
      issuedAt: Date.now(),
      expiresAt: Date.now(),
      replyTo: 'r'.repeat(255),
      live: true,
    });
    expect(message.length).toBeGreaterThan(1024 * 1024);
    expect(message.length).toBeLessThanOrEqual(LIMITS.maxCommandMessageBytes);
  });
});
