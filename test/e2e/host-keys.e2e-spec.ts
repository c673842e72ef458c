import { randomUUID } from 'node:crypto';
import * as amqplib from 'amqplib';
import {
  encode,
  generateSigningKey,
  PROTOCOL_VERSION,
  readSigningKeyFile,
  repliesExchange,
  resultsQueue,
  signBody,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until, Warren } from './harness';

/**
 * Agents sign what they send back, and the controller stores nothing from a key nobody accepted:
 * first use is recorded as pending, `warren hosts accept` trusts it, and a host cannot write
 * another host's results.
 */
describe('host keys: first use is recorded, must be accepted, and nothing untrusted is stored', () => {
  const w = new Warren();
  const hosts = async () =>
    (await w.api('GET', '/v1/hosts')).body.hosts as {
      host: string;
      trust: string;
      keyId: string | null;
      pendingKeyIds: string[];
    }[];

  beforeAll(async () => {
    await w.startController({}, []); // no --auto-accept
    await w.startAgent('k1');
    await w.startAgent('k2');
  });
  afterAll(() => w.teardown());

  it('lists a new agent as pending and sends it nothing until its key is accepted', async () => {
    const k1 = (await hosts()).find((h) => h.host === 'k1')!;
    expect(k1).toMatchObject({ trust: 'pending', keyId: null });
    expect(k1.pendingKeyIds).toHaveLength(1);
    const listed = await w.cli(['hosts']);
    expect(listed.stdout).toMatch(/k1\s+online\s+pending/);

    const refused = await w.runAndWait({ command: 'echo hi', hosts: ['k1', 'nobody-here'] });
    const byHost = Object.fromEntries(refused.results.map((r: any) => [r.host, r]));
    expect(byHost.k1).toMatchObject({ state: 'rejected' });
    expect(byHost.k1.reason).toMatch(/key .* is not accepted; check it and run `warren hosts accept k1`/);
    expect(byHost['nobody-here']).toMatchObject({ state: 'unknown_host' });
    expect(w.agents.get('k1')!.output).not.toMatch(/"invocation started"/);
  });

  it('accepts a key with `warren hosts accept` (admin only), audited; then commands run', async () => {
    const viewer = w.createToken('viewer-k', 'viewer');
    expect((await w.api('POST', '/v1/hosts/k1/accept', {}, { token: viewer })).status).toBe(403);
    const pendingKey = (await hosts()).find((h) => h.host === 'k1')!.pendingKeyIds[0];
    const accepted = await w.cli(['hosts', 'accept', 'k1']);
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toBe(`accepted k1 key ${pendingKey}\n`);
    expect((await hosts()).find((h) => h.host === 'k1')).toMatchObject({
      trust: 'accepted',
      keyId: pendingKey,
      pendingKeyIds: [],
    });
    const again = await w.cli(['hosts', 'accept', 'k1']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/no pending key/);
    const task = await w.runAndWait({ command: 'echo hi', hosts: ['k1'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: 'hi\n' });
    const audit = (await w.api('GET', '/v1/audit?action=host.accept')).body.records as any[];
    expect(audit.map((r) => [r.actor, r.decision, r.hosts])).toEqual(
      expect.arrayContaining([
        ['e2e', 'allowed', ['k1']],
        ['e2e', 'denied', ['k1']],
      ]),
    );
  });

  it('stores nothing a host reports about another host, nor anything signed by an unknown key', async () => {
    await w.cli(['hosts', 'accept', 'k2']);
    const slow = await w.api('POST', '/v1/tasks', { command: 'sleep 1; echo real', hosts: ['k1'] });
    const task = (await w.api('GET', `/v1/tasks/${slow.body.id}`)).body;
    const inv = task.results[0].invocationId;
    const conn = await amqplib.connect('amqp://guest:guest@127.0.0.1:5672');
    const ch = await conn.createConfirmChannel();
    const forge = (host: string, key = generateSigningKey()) => {
      const body = encode({
        v: PROTOCOL_VERSION,
        kind: 'result',
        invocationId: inv,
        taskId: slow.body.id,
        host,
        state: 'succeeded',
        exitCode: 0,
        signal: null,
        stdout: { data: 'forged\n', bytes: 7, truncated: false },
        stderr: { data: '', bytes: 0, truncated: false },
        startedAt: Date.now(),
        finishedAt: Date.now(),
        durationMs: 1,
        reason: null,
      });
      return new Promise<void>((res, rej) =>
        ch.publish(
          repliesExchange(w.ns),
          resultsQueue(w.ns),
          body,
          { headers: signBody(body, key), correlationId: inv, messageId: randomUUID() },
          (e) => (e ? rej(e) : res()),
        ),
      );
    };
    await forge('k1'); // claims to be k1, signed by a key nobody accepted
    await forge('k2'); // an unknown key claiming to be k2
    // k2's real, accepted key: speaking for k1, and speaking for itself about k1's invocation
    const k2Key = readSigningKeyFile(`${w.dir}/agent-k2/agent.key`);
    await forge('k1', k2Key);
    await forge('k2', k2Key);
    await sleep(300);
    const done = (await w.api('GET', `/v1/tasks/${slow.body.id}?waitMs=10000`)).body;
    expect(done.results[0]).toMatchObject({ host: 'k1', state: 'succeeded', stdout: 'real\n' });
    expect(w.controller!.output).toMatch(/dropped a reply not signed by an accepted agent key/);
    expect(w.controller!.output).toMatch(/signed by k2's key but speaks for k1/);
    await conn.close();
  });

  it('ignores a host that comes back with a different key until it is accepted again', async () => {
    await w.agents.get('k2')!.stop('SIGTERM');
    // A reinstalled k2: same name, new state directory, so a new key.
    const reinstalled = await w.startAgent('k2', {}, ['--state-dir', `${w.dir}/agent-k2-reinstalled`], { wait: false });
    const k2 = await until(async () => {
      const h = (await hosts()).find((x) => x.host === 'k2');
      return h?.trust === 'changed' ? h : null;
    }, 10_000);
    expect(k2.pendingKeyIds).toHaveLength(1);
    expect(w.controller!.output).toMatch(/host announced a different key than the accepted one/);
    // The accepted key's agent said goodbye: nothing is sent to the name until the new key is accepted.
    const t = await w.runAndWait({ command: 'echo changed', hosts: ['k2'] });
    expect(t.results[0].state).toBe('rejected');
    expect(t.results[0].reason).toMatch(/now announces another key .* and its accepted key is gone/);
    await sleep(300);
    expect(reinstalled.output).not.toMatch(/"invocation started"/);
    // Accepting the new key retires the old one.
    const r = await w.api('POST', '/v1/hosts/k2/accept', {});
    expect(r.body).toMatchObject({ host: 'k2', keyId: k2.pendingKeyIds[0], replaced: k2.keyId });
    const ok = await w.runAndWait({ command: 'echo back', hosts: ['k2'] });
    expect(ok.results[0]).toMatchObject({ state: 'succeeded', stdout: 'back\n' });
  });
});
