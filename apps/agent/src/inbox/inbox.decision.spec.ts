import { type CommandMessage, decodeCommand, encode } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { admit, decideStart, type StartContext } from './inbox.decision';

const command: CommandMessage = {
  v: 1, kind: 'command', invocationId: 'inv-1', taskId: 't_1', host: 'web1', command: 'true',
  cwd: null, env: {}, timeoutMs: 1000, killGraceMs: 100, issuedAt: 1000, expiresAt: 2000,
};
const bytes = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));

describe('admit', () => {
  it('queues a valid command for this host', () => {
    expect(admit(decodeCommand(encode(command)), 'web1')).toEqual({ action: 'queue', command });
  });

  it('rejects a command for another host, answering it', () => {
    expect(admit(decodeCommand(encode({ ...command, host: 'db1' })), 'web1')).toEqual({
      action: 'reject',
      reason: 'command is for host db1',
      answer: { invocationId: 'inv-1', taskId: 't_1' },
    });
  });

  it('rejects what is not a command, answering only when an invocation id could be read', () => {
    expect(admit(decodeCommand(bytes('{"v":1,')), 'web1')).toEqual({ action: 'reject', reason: 'body is not valid JSON', answer: null });
    expect(admit(decodeCommand(bytes({ ...command, v: 9 })), 'web1')).toMatchObject({ action: 'reject', answer: { invocationId: 'inv-1', taskId: 't_1' } });
    const { taskId: _t, ...noTask } = command;
    expect(admit(decodeCommand(bytes(noTask)), 'web1')).toMatchObject({ action: 'reject', answer: { invocationId: 'inv-1', taskId: 'unknown' } });
    expect(admit(decodeCommand(bytes({ v: 1, kind: 'presence', host: 'web1' })), 'web1')).toMatchObject({
      reason: 'unexpected message kind "presence"',
      answer: null,
    });
  });
});

describe('decideStart', () => {
  const ctx = (over: Partial<StartContext> = {}): StartContext => ({ now: 1500, isRunning: () => false, isJournaled: () => false, ...over });

  it('runs a fresh, unexpired command', () => {
    expect(decideStart(command, ctx())).toBe('run');
    expect(decideStart(command, ctx({ now: 2000 }))).toBe('run'); // the deadline itself is still in time
  });

  it('never starts a command past its expiry', () => {
    expect(decideStart(command, ctx({ now: 2001 }))).toBe('expired');
  });

  it('never runs an invocation twice, and stays silent while the first is still running', () => {
    expect(decideStart(command, ctx({ isJournaled: (id) => id === 'inv-1' }))).toBe('duplicate');
    expect(decideStart(command, ctx({ isJournaled: () => true, now: 9999 }))).toBe('duplicate');
    expect(decideStart(command, ctx({ isJournaled: () => true, isRunning: () => true }))).toBe('running');
  });
});
