import { describe, expect, it } from 'vitest';
import { decodeCancel, decodeCommand, decodePresence, decodeReply, encode } from './codec';
import type { CommandMessage, InterruptedMessage, ResultMessage } from './messages';
import { agentQueue, agentTopology, commandExchange } from './topology';

const command: CommandMessage = {
  v: 1,
  kind: 'command',
  invocationId: 'inv-1',
  taskId: 't_1',
  host: 'web1',
  namespace: 'warren',
  agentKeyId: 'SHA256:agent',
  command: 'df -h',
  runAs: null,
  cwd: null,
  env: { LANG: 'C' },
  timeoutMs: 1000,
  killGraceMs: 500,
  issuedAt: 1,
  expiresAt: 2,
  replyTo: 'warren.results',
};

describe('codec: protocol versions', () => {
  const raw = (o: unknown) => Buffer.from(JSON.stringify(o));

  it('marks a command of a version outside 1..2 as wrongVersion, naming both, with the ids it could read', () => {
    for (const v of [0, 3]) {
      expect(decodeCommand(raw({ ...command, v }))).toEqual({
        ok: false,
        reason: `controller speaks protocol ${v}; this agent accepts 1 to 2`,
        partial: { invocationId: 'inv-1', taskId: 't_1', host: 'web1' },
        wrongVersion: v,
      });
    }
    expect(decodeCancel(raw({ v: 3, kind: 'cancel' }))).toMatchObject({ ok: false, wrongVersion: 3 });
  });

  it('checks the version before the kind and fields: a newer protocol may have others', () => {
    expect(decodeCommand(raw({ v: 3, kind: 'run', invocationId: 'inv-9' }))).toMatchObject({
      ok: false,
      wrongVersion: 3,
      partial: { invocationId: 'inv-9' },
    });
  });

  it('says the agent speaks it when a reply or heartbeat is of another version', () => {
    expect(decodeReply(raw({ v: 0, kind: 'result', host: 'web1' }))).toMatchObject({
      ok: false,
      reason: 'agent speaks protocol 0; this controller accepts 1 to 2',
      partial: { host: 'web1' },
      wrongVersion: 0,
    });
    expect(decodePresence(raw({ v: 3, kind: 'presence', host: 'web1' }))).toMatchObject({
      ok: false,
      reason: 'agent speaks protocol 3; this controller accepts 1 to 2',
      wrongVersion: 3,
    });
  });

  it('calls a v that is no integer malformed, not another version', () => {
    for (const v of [undefined, null, '1', 1.5]) {
      const d = decodeReply(raw({ v, kind: 'result' }));
      expect(d).toMatchObject({ ok: false, reason: 'v must be an integer protocol version' });
      expect(d).not.toHaveProperty('wrongVersion');
    }
  });
});

describe('codec', () => {
  it('round-trips a command, with or without live: false', () => {
    expect(decodeCommand(encode(command))).toEqual({ ok: true, message: command });
    expect(decodeCommand(encode({ ...command, live: false }))).toEqual({
      ok: true,
      message: { ...command, live: false },
    });
  });

  it('rejects what is not a valid command, saying why and keeping the ids it could read', () => {
    const bad = (o: unknown) => decodeCommand(Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)));
    expect(bad('{"v":1,')).toMatchObject({ ok: false, reason: 'body is not valid JSON' });
    expect(bad([1])).toMatchObject({ ok: false, reason: 'body is not a JSON object' });
    expect(bad({ ...command, v: '1' })).toEqual({
      ok: false,
      reason: 'v must be an integer protocol version',
      partial: { invocationId: 'inv-1', taskId: 't_1' },
    });
    expect(bad({ ...command, kind: 'result' })).toMatchObject({
      ok: false,
      reason: 'unexpected message kind "result"',
    });
    expect(bad({ ...command, timeoutMs: -1 })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/timeoutMs must be ≥ 1/),
    });
    expect(bad({ ...command, host: '../etc' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/host is not a valid host id/),
    });
    expect(bad({ ...command, env: { 'A-B': 'x' } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/env has an invalid name/),
    });
    expect(bad({ ...command, env: { A: 1 } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/env.A must be a string/),
    });
    expect(bad({ ...command, live: 'no' })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/live must be a boolean/),
    });
    expect(bad({ ...command, expiresAt: 0 })).toMatchObject({
      ok: false,
      reason: 'invalid command: expiresAt is before issuedAt',
    });
    const { command: _omit, ...noCommand } = command;
    expect(bad(noCommand)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/command must be a string/),
      partial: { invocationId: 'inv-1', taskId: 't_1' },
    });
  });

  it('requires a command and a cancel to name their namespace and agent key', () => {
    const { namespace: _n, agentKeyId: _k, ...unaddressed } = command;
    expect(decodeCommand(encode(unaddressed as CommandMessage))).toMatchObject({
      ok: false,
      reason: 'invalid command: namespace must be a string; agentKeyId must be a string',
    });
    expect(decodeCommand(encode({ ...command, namespace: 'a b' }))).toMatchObject({
      ok: false,
      reason: 'invalid command: namespace is not a valid namespace',
    });
    const cancel = {
      v: 1,
      kind: 'cancel',
      taskId: 't_1',
      host: 'web1',
      invocationIds: ['inv-1'],
      requestedBy: 'ops',
      issuedAt: 1,
      expiresAt: 2,
      replyTo: 'warren.results',
    };
    expect(decodeCancel(Buffer.from(JSON.stringify(cancel)))).toMatchObject({
      ok: false,
      reason: 'invalid cancel: namespace must be a string; agentKeyId must be a string',
    });
    const addressed = { ...cancel, namespace: 'warren', agentKeyId: 'SHA256:agent' };
    expect(decodeCancel(Buffer.from(JSON.stringify(addressed)))).toEqual({ ok: true, message: addressed });
  });

  it('refuses an oversized body before parsing it', () => {
    const huge = Buffer.alloc(10 * 1024 * 1024, 0x20);
    expect(decodeCommand(huge)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/exceeds the \d+-byte limit/),
    });
  });

  it('decodes results and started replies, and nothing else, as replies', () => {
    const result: ResultMessage = {
      v: 1,
      kind: 'result',
      invocationId: 'i',
      taskId: 't',
      host: 'h',
      state: 'failed',
      exitCode: 2,
      signal: null,
      stdout: { data: 'x', bytes: 10, truncated: true },
      stderr: { data: '', bytes: 0, truncated: false },
      startedAt: 1,
      finishedAt: 2,
      durationMs: 1,
      reason: null,
    };
    expect(decodeReply(encode(result))).toEqual({ ok: true, message: result });
    expect(decodeReply(encode({ ...result, state: 'lost' } as never))).toMatchObject({ ok: false });
    expect(decodeReply(encode(command))).toMatchObject({ ok: false, reason: 'unexpected message kind "command"' });
  });

  it('decodes an agent restart report (`interrupted`) as a reply, and refuses one without its reason or time', () => {
    const report: InterruptedMessage = {
      v: 1,
      kind: 'interrupted',
      invocationId: 'i',
      taskId: 't',
      host: 'h',
      reportedAt: 5,
      reason: 'the agent stopped while it ran',
    };
    expect(decodeReply(encode(report))).toEqual({ ok: true, message: report });
    expect(decodeReply(encode({ ...report, reason: '' }))).toMatchObject({
      ok: false,
      reason: /reason must not be empty/,
    });
    expect(decodeReply(encode({ ...report, reportedAt: -1 }))).toMatchObject({ ok: false, reason: /reportedAt/ });
    const { host: _host, ...anonymous } = report;
    expect(decodeReply(Buffer.from(JSON.stringify(anonymous)))).toMatchObject({
      ok: false,
      partial: { invocationId: 'i' },
    });
    expect(decodeCommand(encode(report))).toMatchObject({ ok: false, reason: 'unexpected message kind "interrupted"' });
  });
  it('refuses ids and names holding control characters, keeping no such id as a partial', () => {
    const result: ResultMessage = {
      v: 1,
      kind: 'result',
      invocationId: 'i',
      taskId: 't',
      host: 'h',
      state: 'failed',
      exitCode: 2,
      signal: null,
      stdout: { data: '', bytes: 0, truncated: false },
      stderr: { data: '', bytes: 0, truncated: false },
      startedAt: 1,
      finishedAt: 2,
      durationMs: 1,
      reason: null,
    };
    for (const bad of ['a\u0000b', 'a\u0007', '\u007f', 'a\nb', 'x\u009b']) {
      const reply = decodeReply(encode({ ...result, invocationId: bad }));
      expect(reply).toMatchObject({ ok: false, reason: /invocationId holds control characters/ });
      expect(reply.ok ? null : reply.partial).toEqual({ taskId: 't' });
      expect(decodeReply(encode({ ...result, taskId: bad }))).toMatchObject({ ok: false, reason: /taskId holds/ });
      expect(decodeReply(encode({ ...result, signal: bad }))).toMatchObject({ ok: false, reason: /signal holds/ });
      expect(decodeCommand(encode({ ...command, agentKeyId: bad }))).toMatchObject({ reason: /agentKeyId holds/ });
      expect(decodeCommand(encode({ ...command, replyTo: bad }))).toMatchObject({ reason: /replyTo holds/ });
      expect(decodeCommand(encode({ ...command, runAs: bad }))).toMatchObject({ reason: /runAs holds/ });
    }
    expect(decodeReply(encode({ ...result, reason: 'line 1\nline 2' }))).toMatchObject({ ok: true });
    const cancel = {
      v: 1,
      kind: 'cancel',
      taskId: 't',
      host: 'h',
      namespace: 'warren',
      agentKeyId: 'k',
      invocationIds: ['i'],
      requestedBy: 'alice',
      issuedAt: 1,
      expiresAt: 2,
      replyTo: 'r',
    };
    expect(decodeCancel(Buffer.from(JSON.stringify(cancel)))).toMatchObject({ ok: true });
    for (const change of [{ invocationIds: ['i', 'j\u0000'] }, { requestedBy: 'al\u001bice' }, { taskId: '\u0000' }])
      expect(decodeCancel(Buffer.from(JSON.stringify({ ...cancel, ...change })))).toMatchObject({ ok: false });
  });
});

describe('topology', () => {
  it('namespaces every name, so two installations share a broker without sharing queues', () => {
    expect(agentQueue('a', 'web1')).not.toBe(agentQueue('b', 'web1'));
    const names = (ns: string) => {
      const t = agentTopology(ns, 'web1', 'classic');
      return [...t.exchanges.map((e) => e.name), ...t.queues.map((q) => q.name)];
    };
    for (const name of names('prod')) expect(name.startsWith('prod.')).toBe(true);
    expect(agentTopology('prod', 'web1', 'classic').bindings).toContainEqual({
      queue: 'prod.agent.web1',
      exchange: commandExchange('prod'),
      routingKey: 'web1',
    });
  });
});
