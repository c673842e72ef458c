import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import {
  agentQueue,
  type CommandMessage,
  encode,
  generateSigningKey,
  presenceExchange,
  readSigningKeyFile,
  repliesExchange,
  resultsQueue,
  signBody,
  type SigningKey,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exposition } from '../prometheus-text';
import { BROKER_URL, sleep, until, Warren } from './harness';

/**
 * The upgrade path of issue 15 against a real controller, agent and broker: each accepts protocol N
 * and N−1 (1 to 2 today), and a message of any other version, even validly signed, is refused
 * with a reason naming both versions, not taken for a broken one. Messages of versions 0 and 3
 * are built here by hand, signed with the installation's real keys.
 */
describe('protocol versions: a message of a version outside N−1..N is refused naming both', () => {
  const w = new Warren();
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let controllerKey: SigningKey;
  let agentKeyId = '';
  const marker = () => join(w.dir, 'ran');

  const send = (exchange: string, key: string, body: Buffer, headers: Record<string, unknown>, id: string) =>
    new Promise<void>((res, rej) =>
      ch.publish(exchange, key, body, { headers, correlationId: id, messageId: randomUUID(), persistent: true }, (e) =>
        e ? rej(e) : res(),
      ),
    );
  const metric = async (name: string, labels: Record<string, string>) => {
    const res = await fetch(`${w.url}/metrics`, { headers: { authorization: `Bearer ${w.token}` } });
    return new Exposition(await res.text()).value(name, labels);
  };
  const controllerLines = (msg: string) =>
    w
      .controller!.output.split('\n')
      .filter((l) => l.includes(`"msg":"${msg}`))
      .map((l) => JSON.parse(l));

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('pv1');
    controllerKey = readSigningKeyFile(w.controllerKeyPath);
    agentKeyId = await w.hostKeyId('pv1');
    conn = await amqplib.connect(BROKER_URL);
    ch = await conn.createConfirmChannel();
  });
  afterAll(async () => {
    await conn?.close();
    await w.teardown();
  });

  it('an agent answers a signed command of protocol 0 or 3 rejected (protocol_version), naming both versions, and runs neither', async () => {
    const sent: { id: string; v: number }[] = [];
    for (const v of [0, 3]) {
      const m = {
        v,
        kind: 'command',
        invocationId: randomUUID(),
        taskId: 't_protocol',
        host: 'pv1',
        namespace: w.ns,
        agentKeyId,
        command: `touch ${marker()}`,
        runAs: null,
        cwd: null,
        env: {},
        timeoutMs: 10_000,
        killGraceMs: 1_000,
        issuedAt: Date.now(),
        expiresAt: Date.now() + 60_000,
        replyTo: resultsQueue(w.ns),
      } as unknown as CommandMessage;
      const body = encode(m);
      // straight into the agent's queue, as a controller of that protocol would send it
      await new Promise<void>((res, rej) =>
        ch.sendToQueue(
          agentQueue(w.ns, 'pv1'),
          body,
          { headers: signBody(body, controllerKey), correlationId: m.invocationId, persistent: true },
          (e) => (e ? rej(e) : res()),
        ),
      );
      sent.push({ id: m.invocationId, v });
    }
    const audited = await until(async () => {
      const res = await w.api('GET', '/v1/audit?action=agent.rejected&limit=100');
      const records = (res.body.records as any[]).filter((r) => sent.some((s) => s.id === r.invocationId));
      return records.length === 2 ? records : null;
    }, 10_000);
    for (const { id, v } of sent) {
      const r = audited.find((a: any) => a.invocationId === id);
      expect(r).toMatchObject({ actor: 'agent:pv1', detail: { code: 'protocol_version' } });
      expect(r.reason).toContain(`controller speaks protocol ${v}; this agent accepts 1 to 2`);
    }
    expect(await metric('warren_agent_rejections_total', { code: 'protocol_version' })).toBe(2);
    await sleep(300);
    expect(existsSync(marker())).toBe(false);
    expect(w.agents.get('pv1')!.output).toMatch(/"code":"protocol_version".*"rejected message"/);
  });

  it('the controller logs a heartbeat of protocol 0 once per host, naming both versions, and lists no such host', async () => {
    const key = generateSigningKey();
    for (let i = 0; i < 3; i++) {
      const m = {
        v: 0,
        kind: 'presence',
        host: 'ancient1',
        status: 'online',
        labels: {},
        version: '0.0.9',
        running: 0,
        concurrency: 4,
        intervalMs: 1000,
        sentAt: Date.now(),
        publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      };
      const body = Buffer.from(JSON.stringify(m));
      await send(presenceExchange(w.ns), '', body, signBody(body, key), randomUUID());
    }
    const msg = 'heartbeat of a protocol version this controller does not accept';
    const [line] = await until(() => {
      const l = controllerLines(msg);
      return l.length > 0 ? l : null;
    }, 10_000);
    expect(line).toMatchObject({
      host: 'ancient1',
      agentProtocol: 0,
      accepted: { min: 1, max: 2 },
      reason: 'agent speaks protocol 0; this controller accepts 1 to 2',
      msg: `${msg}: upgrade the agent`,
    });
    await sleep(500); // the other two were read by now (the agent's own heartbeats keep coming): still one line
    expect(controllerLines(msg)).toHaveLength(1);
    const { hosts } = (await w.api('GET', '/v1/hosts')).body as { hosts: { host: string }[] };
    expect(hosts.map((h) => h.host)).toEqual(['pv1']);
    expect(await metric('warren_heartbeats_wrong_protocol_total', {})).toBe(3);
  });

  it("the controller drops a reply of protocol 3 signed by the accepted agent's key, counted and logged as such", async () => {
    const agentKey = readSigningKeyFile(join(w.dir, 'agent-pv1', 'agent.key'));
    expect(await metric('warren_replies_rejected_total', { reason: 'protocol_version' })).toBe(0);
    const m = { v: 3, kind: 'started', invocationId: randomUUID(), taskId: 't_x', host: 'pv1', startedAt: Date.now() };
    const body = Buffer.from(JSON.stringify(m));
    await send(repliesExchange(w.ns), resultsQueue(w.ns), body, signBody(body, agentKey), m.invocationId);
    await until(async () => (await metric('warren_replies_rejected_total', { reason: 'protocol_version' })) === 1);
    expect(await metric('warren_replies_rejected_total', { reason: 'malformed' })).toBe(0);
    // The log line reaches the pipe on its own time, after the counter: waited for, not raced.
    const lines = await until(() => {
      const l = controllerLines('reply of a protocol version this controller does not accept');
      return l.length > 0 ? l : null;
    }, 10_000);
    expect(lines).toMatchObject([
      { host: 'pv1', agentProtocol: 3, reason: 'agent speaks protocol 3; this controller accepts 1 to 2' },
    ]);
    expect((await fetch(`${w.url}/healthz`)).ok).toBe(true);
  });
});
