import { randomUUID } from 'node:crypto';
import * as amqplib from 'amqplib';
import { agentQueue, type CommandMessage, encode, readSigningKeyFile, resultsQueue, signBody } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_URL, peakRss, until, Warren } from './harness';

/**
 * 3,000 commands queued for one agent at once (a flood 750 times its concurrency): it keeps its concurrency limit (it holds only its
 * prefetch, the rest wait in the broker), its memory stays bounded, and it runs each exactly once.
 */
describe('resource bounds: a flood of queued commands to one agent', () => {
  const w = new Warren();
  const N = 3_000;
  const CONCURRENCY = 4;

  beforeAll(async () => {
    await w.startController();
    // info: one line per start and finish is what this test counts (debug would add five more per command)
    await w.startAgent('flood1', { WARREN_LOG_LEVEL: 'info' }, ['--concurrency', String(CONCURRENCY)]);
  });
  afterAll(() => w.teardown());

  it(`runs ${N.toLocaleString('en')} queued commands with never more than ${CONCURRENCY} at once, in bounded memory`, async () => {
    const agent = w.agents.get('flood1')!;
    const key = readSigningKeyFile(w.controllerKeyPath);
    const conn = await amqplib.connect(BROKER_URL);
    const ch = await conn.createConfirmChannel();
    const agentKeyId = await w.hostKeyId('flood1');
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const m: CommandMessage = {
        v: 1,
        kind: 'command',
        invocationId: randomUUID(),
        taskId: 't_flood',
        host: 'flood1',
        namespace: w.ns,
        agentKeyId,
        command: ':',
        runAs: null,
        cwd: null,
        env: {},
        timeoutMs: 60_000,
        killGraceMs: 1_000,
        issuedAt: now,
        expiresAt: now + 600_000,
        replyTo: resultsQueue(w.ns),
      };
      ids.push(m.invocationId);
      const body = encode(m);
      ch.sendToQueue(agentQueue(w.ns, 'flood1'), body, {
        headers: signBody(body, key),
        correlationId: m.invocationId,
        persistent: true,
      });
    }
    await ch.waitForConfirms();
    const t0 = Date.now();
    const finished = () => (agent.output.match(/"invocation finished"/g) ?? []).length;
    // A hang guard, not a speed test (that is npm run bench): it took 75 s in one CI run and 235 s on
    // the same kind of machine on another day, with the code of both days (spawns 1.5× slower then).
    await until(() => finished() >= N, 540_000, 500);
    const seconds = (Date.now() - t0) / 1000;
    expect((await ch.checkQueue(agentQueue(w.ns, 'flood1'))).messageCount).toBe(0);
    await conn.close();

    // Never more than CONCURRENCY running, from the agent's own start/finish lines, in order.
    let running = 0;
    let peak = 0;
    const started = new Map<string, number>();
    for (const line of agent.output.split('\n')) {
      if (line.includes('"invocation started"')) {
        running++;
        peak = Math.max(peak, running);
        const id = JSON.parse(line).correlationId as string;
        started.set(id, (started.get(id) ?? 0) + 1);
      } else if (line.includes('"invocation finished"')) running--;
    }
    expect(peak).toBe(CONCURRENCY);
    expect(started.size).toBe(N); // every one ran…
    expect([...started.values()].every((n) => n === 1)).toBe(true); // …exactly once
    expect(ids.every((id) => started.has(id))).toBe(true);
    const rss = await peakRss(agent.pid);
    expect(rss).toBeLessThan(200 * 1024 * 1024);
    console.log(
      `flood: ${N} commands in ${seconds.toFixed(1)} s (${Math.round(N / seconds)}/s), peak concurrency ${peak}, agent peak RSS ${(rss / 1048576).toFixed(0)} MiB`,
    );
  }, 600_000);
});
