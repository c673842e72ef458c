import * as amqplib from 'amqplib';
import {
  agentQueue,
  commandExchange,
  readSigningKeyFile,
  resultsQueue,
  signBody,
  undeliveredQueue,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_URL, peakRss, sleep, until, Warren } from './harness';

describe('bad input, huge output and forged dead letters', () => {
  const w = new Warren();

  beforeAll(async () => {
    // A long delivery grace keeps the deadline sweeper out of the dead-letter test's way.
    await w.startController({ WARREN_DELIVERY_GRACE: '30s' });
    await Promise.all(['r1', 'r2'].map((h) => w.startAgent(h)));
  });
  afterAll(() => w.teardown());

  it('reports 50 MiB of output as truncated with the true byte count, and the agent stays small', async () => {
    const agent = w.agents.get('r1')!;
    const task = await w.runAndWait({
      command: 'head -c 52428800 /dev/zero | tr "\\0" x; echo tail >&2',
      hosts: ['r1'],
    });
    const r = task.results[0];
    expect(r.state).toBe('succeeded');
    expect(r.stdoutBytes).toBe(52_428_800);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.stdout.length).toBe(1024 * 1024);
    expect(r.stderr).toBe('tail\n');
    expect(r.stderrTruncated).toBe(false);
    // The agent never held the 50 MiB: its peak RSS stays far below it plus its idle size.
    expect(await peakRss(agent.pid)).toBeLessThan(160 * 1024 * 1024);
  });

  it('rejects malformed JSON, a wrong message type (both validly signed) and a 10 MiB body without requeue, and keeps serving', async () => {
    const agent = w.agents.get('r2')!;
    const key = readSigningKeyFile(w.controllerKeyPath);
    const conn = await amqplib.connect(BROKER_URL);
    const ch = await conn.createConfirmChannel();
    const props = { persistent: true, replyTo: resultsQueue(w.ns), contentType: 'application/json' };
    // Signed with the controller's own key, so that the agent gets as far as parsing them.
    const send = (body: Buffer, extra: object = {}) =>
      new Promise<void>((res, rej) =>
        ch.publish(commandExchange(w.ns), 'r2', body, { ...props, headers: signBody(body, key), ...extra }, (err) =>
          err ? rej(err) : res(),
        ),
      );
    await send(Buffer.from('{"v":1,"kind":"command",'), { correlationId: 'bad-json' });
    await send(Buffer.from(JSON.stringify({ v: 1, kind: 'presence', host: 'r2' })), { correlationId: 'wrong-kind' });
    await send(Buffer.alloc(10 * 1024 * 1024, 0x7b), { correlationId: 'huge' });
    await until(() => (agent.output.match(/rejected message/g) ?? []).length >= 3, 10_000);
    // Nothing left behind, nothing redelivered in a loop.
    await sleep(500);
    expect((await ch.checkQueue(agentQueue(w.ns, 'r2'))).messageCount).toBe(0);
    await conn.close();
    expect(agent.alive).toBe(true);
    expect(agent.output).toMatch(/not valid JSON/);
    expect(agent.output).toMatch(/unexpected message kind/);
    expect(agent.output).toMatch(/exceeds/);
    const task = await w.runAndWait({ command: 'echo still here', hosts: ['r2'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: 'still here\n' });
  });

  it('marks `undelivered` from a dead letter only for its own signed, expired command: forged or early copies change nothing', async () => {
    await w.startAgent('r4');
    await w.agents.get('r4')!.stop('SIGTERM'); // its key is accepted; its commands now wait in its inbox
    const { body } = await w.api('POST', '/v1/tasks', { command: 'echo hi', hosts: ['r4'], deliveryTimeoutMs: 4_000 });
    const conn = await amqplib.connect(BROKER_URL);
    const ch = await conn.createConfirmChannel();
    // Whoever can read the inbox takes the real signed command out of it (so the broker never expires it)...
    const real = await until(async () => (await ch.get(agentQueue(w.ns, 'r4'), { noAck: true })) || undefined, 5_000);
    const invocationId = real.properties.correlationId as string;
    const expired = [{ reason: 'expired', queue: agentQueue(w.ns, 'r4'), count: 1 }];
    const deadLetter = (content: Buffer, headers: object) =>
      new Promise<void>((res, rej) =>
        ch.sendToQueue(undeliveredQueue(w.ns), content, { correlationId: invocationId, headers }, (err) =>
          err ? rej(err) : res(),
        ),
      );
    // ...and posts it as if the broker had dead-lettered it; and an unsigned forgery with the same id.
    await deadLetter(real.content, { ...real.properties.headers, 'x-death': expired });
    await deadLetter(Buffer.from(JSON.stringify({ v: 1, kind: 'command', invocationId })), { 'x-death': expired });
    await w.controller!.waitFor(/ignored a dead letter whose command has not expired yet/, 5_000);
    await w.controller!.waitFor(/ignored a dead letter that is not a command this controller signed/, 5_000);
    const pending = (await w.api('GET', `/v1/tasks/${body.id}`)).body;
    expect(pending.results[0]).toMatchObject({ host: 'r4', state: 'pending' });
    // Once its signed expiry has passed, no agent would run it: the same copy now counts.
    await sleep(Math.max(0, JSON.parse(real.content.toString()).expiresAt - Date.now()) + 50);
    await deadLetter(real.content, { ...real.properties.headers, 'x-death': expired });
    const line = await w.controller!.waitFor(
      new RegExp(`command expired unread.*${invocationId}|${invocationId}.*command expired unread`),
      5_000,
    );
    expect(JSON.parse(line)).toMatchObject({ correlationId: invocationId, host: 'r4', state: 'undelivered' });
    const done = (await w.api('GET', `/v1/tasks/${body.id}?waitMs=5000`)).body;
    expect(done.results[0]).toMatchObject({
      state: 'undelivered',
      reason: expect.stringMatching(/expired in the host queue/),
    });

    // A command the broker itself expires keeps its signature through dead-lettering: the fast path
    // marks it, long before the controller's own deadline (30 s of grace here).
    const t0 = Date.now();
    const second = (await w.api('POST', '/v1/tasks', { command: 'echo hi', hosts: ['r4'], deliveryTimeoutMs: 1_500 }))
      .body;
    const after = (await w.api('GET', `/v1/tasks/${second.id}?waitMs=10000`)).body;
    expect(after.results[0]).toMatchObject({
      state: 'undelivered',
      reason: expect.stringMatching(/expired in the host queue/),
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    await conn.close();
  });
});
