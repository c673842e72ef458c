import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import { agentControlQueue, agentQueue, commandExchange, controlExchange } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_URL, sleep, until, Warren } from './harness';

/** Lines in a side-effect file: one per execution of a command that appends to it. */
const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

/**
 * A signed command names the namespace it was issued in and the agent key the controller accepted
 * for its host. A copy captured off the broker and replayed into another installation whose agent
 * trusts the same controller key, or into the same host after its state directory (so its key and
 * journal) was wiped, is refused `rejected` there and never runs.
 */
describe('replay elsewhere: a captured command runs nowhere but where it was addressed', () => {
  /** installation A: the command is captured here */
  const a = new Warren();
  /** installation B: its agent also trusts A's controller key (as after a shared key or a copied config) */
  const b = new Warren();
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let captured: amqplib.GetMessage;
  /** a cancel of r1's running command, captured off A's control exchange */
  let capturedCancel: amqplib.GetMessage;
  let taskId = '';
  const side = () => join(a.dir, 'side-effects');

  /** Publishes a captured message, bytes and headers unchanged, straight into `queue`. */
  const replayInto = (queue: string, m: amqplib.GetMessage) =>
    new Promise<void>((res, rej) =>
      ch.sendToQueue(
        queue,
        m.content,
        {
          headers: m.properties.headers,
          correlationId: m.properties.correlationId as string | undefined,
          persistent: true,
          contentType: 'application/json',
        },
        (err) => (err ? rej(err) : res()),
      ),
    );
  /** Replays the captured command into `host`'s inbox of namespace `ns`. */
  const replay = (ns: string, host: string) => replayInto(agentQueue(ns, host), captured);

  beforeAll(async () => {
    await a.startController();
    await b.startController();
    await a.startAgent('r1');
    await b.startAgent('r1', {}, ['--trust', a.controllerPublicKey]);
    conn = await amqplib.connect(BROKER_URL);
    ch = await conn.createConfirmChannel();
    // An eavesdropper with bind rights on A's command exchange keeps a copy of r1's command.
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, commandExchange(a.ns), 'r1');
    const task = await a.runAndWait({
      command: `echo ran >> ${side()}`,
      hosts: ['r1'],
      deliveryTimeoutMs: 600_000, // the copy stays unexpired: only its address can stop it
    });
    expect(task.results[0].state).toBe('succeeded');
    taskId = task.id;
    captured = await until(async () => (await ch.get(q.queue, { noAck: true })) || null, 10_000);
    expect(lines(side())).toEqual(['ran']);
    // …and of a cancel, off A's control exchange: of a long command, cancelled while it runs.
    const cq = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(cq.queue, controlExchange(a.ns), 'r1');
    const long = await a.api('POST', '/v1/tasks', { command: 'sleep 30', hosts: ['r1'] });
    await until(async () => (await a.api('GET', `/v1/tasks/${long.body.id}`)).body.results[0].state === 'running');
    expect((await a.api('POST', `/v1/tasks/${long.body.id}/cancel`, {})).status).toBe(200);
    capturedCancel = await until(async () => (await ch.get(cq.queue, { noAck: true })) || null, 10_000);
  }, 90_000);
  afterAll(async () => {
    await conn?.close();
    await Promise.all([a.teardown(), b.teardown()]);
  });

  it("is rejected by another namespace's agent that trusts the same controller key, runs nothing, and that controller audits it", async () => {
    const invocationId = captured.properties.correlationId as string;
    await replay(b.ns, 'r1');
    const line = await b.agents.get('r1')!.waitFor(/"code":"wrong_namespace"/, 10_000);
    expect(JSON.parse(line)).toMatchObject({
      msg: 'rejected message',
      correlationId: invocationId,
      verified: true,
      reason: `wrong namespace: issued in namespace ${a.ns}, this agent serves ${b.ns}; not run`,
    });
    // B's controller hears of it (the refusal goes to B's own results queue), and changes no task for it.
    const audited = await until(async () => {
      const res = await b.api('GET', '/v1/audit?action=agent.rejected&limit=100');
      return (res.body.records as any[]).find((r) => r.invocationId === invocationId);
    }, 10_000);
    expect(audited).toMatchObject({ actor: 'agent:r1', decision: 'denied', detail: { code: 'wrong_namespace' } });
    await sleep(500); // a run would have appended by now: the refusal is sent after the decision
    expect(lines(side())).toEqual(['ran']);
  });

  it("a captured cancel is not applied by another namespace's agent that trusts the same controller key", async () => {
    const agent = b.agents.get('r1')!;
    await replayInto(agentControlQueue(b.ns, 'r1'), capturedCancel);
    const line = await agent.waitFor(/rejected control message/, 10_000);
    expect(JSON.parse(line)).toMatchObject({ code: 'wrong_namespace' });
    expect(agent.output).not.toMatch(/"cancel applied"/);
  });

  it('is rejected by the same host after its state directory was wiped (new key, empty journal), and runs nothing', async () => {
    const invocationId = captured.properties.correlationId as string;
    await a.agents.get('r1')!.stop();
    rmSync(join(a.dir, 'agent-r1'), { recursive: true, force: true });
    const agent = await a.startAgent('r1', {}, [], { wait: false });
    await until(async () => {
      const { hosts } = (await a.api('GET', '/v1/hosts')).body as { hosts: { host: string; trust: string }[] };
      return hosts.find((h) => h.host === 'r1')?.trust === 'changed';
    }, 20_000);
    await replay(a.ns, 'r1');
    const line = await agent.waitFor(/"code":"wrong_key"/, 10_000);
    expect(JSON.parse(line)).toMatchObject({ msg: 'rejected message', correlationId: invocationId, verified: true });
    expect(JSON.parse(line).reason).toMatch(
      /^wrong agent key: the command is addressed to key SHA256:\S+, this agent's key is SHA256:\S+; not run$/,
    );
    // Its refusal is signed by a key the controller has not accepted: dropped there, as any reply of that key.
    await a.controller!.waitFor(/dropped a reply not signed by an accepted agent key/, 10_000);
    await sleep(500);
    expect(lines(side())).toEqual(['ran']);
    expect((await a.api('GET', `/v1/tasks/${taskId}`)).body.results[0].state).toBe('succeeded');
    // A captured cancel, likewise: addressed to the old key, not applied.
    await replayInto(agentControlQueue(a.ns, 'r1'), capturedCancel);
    expect(JSON.parse(await agent.waitFor(/rejected control message/, 10_000))).toMatchObject({ code: 'wrong_key' });
    expect(agent.output).not.toMatch(/"cancel applied"/);
  });
});
