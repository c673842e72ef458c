import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Delivery } from '@warren/amqp';
import { encode, signBody } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { FakeDelivery, useInboxHarness, sleep } from './inbox.fixtures';

describe('InboxService refusing commands', () => {
  const h = useInboxHarness();
  const { command, deliver, results, started } = h;

  it('rejects, never runs and answers on the default route: unsigned, untrusted key, bad signature', async () => {
    const marker = join(h.dir, 'ran');
    const c = command({ command: `touch ${marker}`, replyTo: 'attacker.route' });
    const body = encode(c);
    const unsigned = deliver(h.inbox, c, {}, { key: null });
    const stranger = deliver(h.inbox, c, {}, { key: h.strangerKey });
    // a signature made over other bytes, presented with the trusted key's id
    const otherBytes = signBody(encode({ ...c, command: 'true' }), h.controllerKey);
    const forged = new FakeDelivery(body, { correlationId: c.invocationId, headers: otherBytes }, () => h.journal);
    h.inbox.handle(forged as unknown as Delivery);
    expect([unsigned.settled, stranger.settled, forged.settled]).toEqual(['reject', 'reject', 'reject']);
    expect(results().map((r) => [r.code, r.state, r.invocationId, r.taskId])).toEqual([
      ['unsigned', 'rejected', c.invocationId, 'unknown'],
      ['untrusted_key', 'rejected', c.invocationId, 'unknown'],
      ['bad_signature', 'rejected', c.invocationId, 'unknown'],
    ]);
    expect(h.sent.every((x) => x.routingKey === 'ns.results')).toBe(true);
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(h.journal.has(c.invocationId)).toBe(false);
  });

  it('rejects a command the local policy denies, even with a valid signature, and never runs it', async () => {
    const c = command({ command: 'reboot now' });
    expect(deliver(h.inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      state: 'rejected',
      code: 'policy',
      reason: 'policy: command matches deny pattern "reboot*"',
    });
    expect(started()).toHaveLength(0);
    expect(h.journal.has(c.invocationId)).toBe(false);
  });

  it('rejects a command issued too far in the future', async () => {
    const c = command({ issuedAt: Date.now() + 120_000, expiresAt: Date.now() + 180_000 });
    expect(deliver(h.inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({ state: 'rejected', code: 'not_yet_valid' });
    expect(started()).toHaveLength(0);
  });

  it('does not start a command whose expiry passed while it waited', async () => {
    const marker = join(h.dir, 'ran');
    const c = command({ command: `touch ${marker}`, issuedAt: Date.now() - 95_000, expiresAt: Date.now() - 31_000 });
    const d = deliver(h.inbox, c);
    expect(d.settled).toBe('ack');
    expect(results()[0]).toMatchObject({ state: 'rejected', code: 'expired' });
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(h.journal.has(c.invocationId)).toBe(false);
  });

  it('rejects signed but malformed messages without requeue, answering with the correlation id', () => {
    expect(deliver(h.inbox, Buffer.from('{"v":1,'), { correlationId: 'inv-x' }).settled).toBe('reject');
    expect(results().map((r) => [r.invocationId, r.code, r.reason])).toEqual([
      ['inv-x', 'malformed', 'body is not valid JSON'],
    ]);
  });

  it('refuses a signed command of protocol 0 or 3, never runs it, and answers its reply route naming both versions', async () => {
    const marker = join(h.dir, 'ran');
    const old = { ...command({ command: `touch ${marker}`, replyTo: 'ns.results.c1' }), v: 0 };
    const newer = { ...command({ command: `touch ${marker}`, replyTo: 'ns.results.c1' }), v: 3 };
    for (const c of [old, newer]) {
      const body = Buffer.from(JSON.stringify(c));
      expect(deliver(h.inbox, body, { correlationId: 'claimed-elsewhere' }).settled).toBe('ack');
    }
    expect(results().map((r) => [r.invocationId, r.taskId, r.state, r.code, r.reason])).toEqual([
      [
        old.invocationId,
        old.taskId,
        'rejected',
        'protocol_version',
        'controller speaks protocol 0; this agent accepts 1 to 2',
      ],
      [
        newer.invocationId,
        newer.taskId,
        'rejected',
        'protocol_version',
        'controller speaks protocol 3; this agent accepts 1 to 2',
      ],
    ]);
    expect(h.sent.map((x) => x.routingKey)).toEqual(['ns.results.c1', 'ns.results.c1']);
    await sleep(100);
    expect(existsSync(marker)).toBe(false);
    expect(h.journal.has(old.invocationId)).toBe(false);
  });

  it('answers an unsigned command of another protocol version as unsigned: the version of a message nobody signed means nothing', () => {
    const c = { ...command(), v: 2 };
    expect(
      deliver(h.inbox, Buffer.from(JSON.stringify(c)), { correlationId: c.invocationId }, { key: null }).settled,
    ).toBe('reject');
    expect(results().map((r) => r.code)).toEqual(['unsigned']);
  });

  it('rejects a command for another host and says so', () => {
    const c = command({ host: 'db1' });
    expect(deliver(h.inbox, c).settled).toBe('ack');
    expect(results()[0]).toMatchObject({
      invocationId: c.invocationId,
      host: 'web1',
      state: 'rejected',
      code: 'wrong_host',
      reason: 'wrong host: the command is for db1, this is web1',
    });
    expect(h.runner.running).toBe(0);
  });
});
