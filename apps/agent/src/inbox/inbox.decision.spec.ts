import { type CommandMessage, encode, generateSigningKey, keyRing, LIMITS, signBody } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { type AdmitContext, admit, decideStart, misaddressing, type StartContext } from './inbox.decision';

const controller = generateSigningKey();
/** this agent's key */
const agent = generateSigningKey();
const command: CommandMessage = {
  v: 1,
  kind: 'command',
  invocationId: 'inv-1',
  taskId: 't_1',
  host: 'web1',
  namespace: 'ns',
  agentKeyId: agent.keyId,
  command: 'true',
  runAs: null,
  cwd: null,
  env: {},
  timeoutMs: 1000,
  killGraceMs: 100,
  issuedAt: 1000,
  expiresAt: 2000,
  replyTo: 'ns.results',
};
const signed = (c: CommandMessage | Buffer, key = controller) => {
  const content = Buffer.isBuffer(c) ? c : encode(c);
  return { content, headers: signBody(content, key), correlationId: 'inv-1' };
};
const ctx = (over: Partial<AdmitContext> = {}): AdmitContext => ({
  host: 'web1',
  namespace: 'ns',
  agentKeyId: agent.keyId,
  trusted: keyRing([controller]),
  now: 1500,
  skewMs: 30_000,
  seen: () => null,
  outcomeOf: () => null,
  ...over,
});

describe('admit', () => {
  it('queues a command signed by a trusted key, for this host, in its validity window, never seen', () => {
    expect(admit(signed(command), ctx())).toEqual({ action: 'queue', command });
  });

  it('checks the signature before reading anything: unsigned, untrusted, altered', () => {
    const unsigned = { content: encode(command), headers: {}, correlationId: 'inv-1' };
    expect(admit(unsigned, ctx())).toMatchObject({
      action: 'reject',
      code: 'unsigned',
      verified: false,
      answer: { invocationId: 'inv-1', taskId: 'unknown' },
    });
    expect(admit(signed(command, generateSigningKey()), ctx())).toMatchObject({
      code: 'untrusted_key',
      verified: false,
    });
    const s = signed(command);
    const altered = Buffer.from(s.content.toString().replace('"true"', '"reboot"'));
    expect(admit({ ...s, content: altered }, ctx())).toMatchObject({ code: 'bad_signature', verified: false });
    // even bytes that are not JSON at all are refused for their signature, not parsed
    expect(admit({ content: Buffer.from('{"v":1,'), headers: {}, correlationId: undefined }, ctx())).toMatchObject({
      code: 'unsigned',
      answer: { invocationId: 'unidentified' },
    });
  });

  it('refuses an oversized message before hashing it', () => {
    const huge = Buffer.alloc(LIMITS.maxCommandMessageBytes + 1, 0x20);
    expect(admit({ content: huge, headers: signBody(huge, controller), correlationId: 'inv-9' }, ctx())).toMatchObject({
      code: 'oversized',
      verified: false,
      answer: { invocationId: 'inv-9' },
    });
  });

  it('refuses a signed message that is not a valid command as malformed', () => {
    expect(admit(signed(Buffer.from('{"v":1,')), ctx())).toMatchObject({
      code: 'malformed',
      reason: 'body is not valid JSON',
      verified: false,
    });
  });

  it('refuses a command for another host, issued in the future beyond the skew, or expired (no skew: the controller calls it undelivered then)', () => {
    expect(admit(signed({ ...command, host: 'db1' }), ctx())).toMatchObject({
      code: 'wrong_host',
      verified: true,
      answer: { invocationId: 'inv-1', taskId: 't_1' },
    });
    const future = (issuedAt: number) => ({ ...command, issuedAt, expiresAt: issuedAt + 1000 });
    expect(admit(signed(future(1500 + 30_000)), ctx())).toEqual({ action: 'queue', command: future(31_500) });
    expect(admit(signed(future(1500 + 30_001)), ctx())).toMatchObject({ code: 'not_yet_valid' });
    expect(admit(signed(command), ctx({ now: 2000 }))).toMatchObject({ action: 'queue' });
    expect(admit(signed(command), ctx({ now: 2001 }))).toMatchObject({ code: 'expired' });
  });

  it('refuses a copy replayed into another namespace whose agent trusts the same controller key, naming both namespaces', () => {
    expect(admit(signed(command), ctx({ namespace: 'other' }))).toEqual({
      action: 'reject',
      code: 'wrong_namespace',
      reason: 'wrong namespace: issued in namespace ns, this agent serves other; not run',
      answer: { invocationId: 'inv-1', taskId: 't_1' },
      verified: true,
    });
    // another namespace is named before another host: the widest mismatch
    expect(admit(signed({ ...command, host: 'db1' }), ctx({ namespace: 'other' }))).toMatchObject({
      code: 'wrong_namespace',
    });
  });

  it('refuses a copy addressed to another agent key: the host after its state directory (key and journal) was wiped', () => {
    const wiped = generateSigningKey();
    expect(admit(signed(command), ctx({ agentKeyId: wiped.keyId }))).toEqual({
      action: 'reject',
      code: 'wrong_key',
      reason: `wrong agent key: the command is addressed to key ${agent.keyId}, this agent's key is ${wiped.keyId}; not run`,
      answer: { invocationId: 'inv-1', taskId: 't_1' },
      verified: true,
    });
  });

  it('refuses as malformed a signed command that names no namespace or agent key (a controller before the rule)', () => {
    const { namespace: _ns, agentKeyId: _key, ...old } = command;
    expect(admit(signed(Buffer.from(JSON.stringify(old))), ctx())).toMatchObject({
      action: 'reject',
      code: 'malformed',
      reason: 'invalid command: namespace must be a string; agentKeyId must be a string',
    });
  });

  it('refuses any copy of an invocation already running, waiting or journaled, saying how the first one went', () => {
    expect(admit(signed(command), ctx({ seen: () => 'running' }))).toMatchObject({
      code: 'replay',
      reason: 'replay: this invocation is running now; not run again',
    });
    expect(admit(signed(command), ctx({ seen: () => 'waiting' }))).toMatchObject({ code: 'replay' });
    const out = { state: 'succeeded', exitCode: 0, signal: null, finishedAt: Date.UTC(2026, 0, 1) };
    expect(admit(signed(command), ctx({ seen: () => 'journaled', outcomeOf: () => out }))).toMatchObject({
      code: 'replay',
      reason:
        'replay: this invocation already ran (succeeded, exit 0, finished 2026-01-01T00:00:00.000Z); not run again',
    });
    expect(admit(signed(command), ctx({ seen: () => 'journaled' }))).toMatchObject({
      reason: expect.stringContaining('outcome unknown'),
    });
  });
});

describe('misaddressing (commands and cancels alike)', () => {
  const me = { namespace: 'ns', host: 'web1', agentKeyId: agent.keyId };

  it('passes only what names this namespace, this host and this key', () => {
    expect(misaddressing(me, me)).toBeNull();
    expect(misaddressing({ ...me, namespace: 'other' }, me)?.code).toBe('wrong_namespace');
    expect(misaddressing({ ...me, host: 'db1' }, me)?.code).toBe('wrong_host');
    expect(misaddressing({ ...me, agentKeyId: 'SHA256:old' }, me)?.code).toBe('wrong_key');
    // the widest mismatch is named first
    expect(misaddressing({ namespace: 'other', host: 'db1', agentKeyId: 'SHA256:old' }, me)?.code).toBe(
      'wrong_namespace',
    );
    expect(misaddressing({ ...me, host: 'db1', agentKeyId: 'SHA256:old' }, me)?.code).toBe('wrong_host');
  });
});

describe('decideStart', () => {
  const sctx = (over: Partial<StartContext> = {}): StartContext => ({
    now: 1500,
    isRunning: () => false,
    isJournaled: () => false,
    ...over,
  });

  it('runs a fresh, unexpired command', () => {
    expect(decideStart(command, sctx())).toBe('run');
    expect(decideStart(command, sctx({ now: 2000 }))).toBe('run'); // the deadline itself is still in time
  });

  it('never starts a command past its expiry, whatever the skew (the start decision is not told the skew)', () => {
    expect(decideStart(command, sctx({ now: 2001 }))).toBe('expired');
  });

  it('never runs an invocation twice', () => {
    expect(decideStart(command, sctx({ isJournaled: (id) => id === 'inv-1' }))).toBe('duplicate');
    expect(decideStart(command, sctx({ isJournaled: () => true, now: 9999 }))).toBe('duplicate');
    expect(decideStart(command, sctx({ isRunning: () => true }))).toBe('duplicate');
  });
});
