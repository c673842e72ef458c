import { appendFileSync } from 'node:fs';
import * as amqplib from 'amqplib';
import { agentQueue, deadLetterExchange } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../../support/private-broker';
import { until, Warren } from '../harness';
import { agentEnv, Ledger, startAgents } from './ledger';

/** The sweeper's words: the controller's own deadline, not the broker's dead-lettering, marked it. */
const BY_DEADLINE = /no agent took the command within its delivery timeout/;

/**
 * `undelivered` must not depend on RabbitMQ: a classic queue expires messages only at its head,
 * and dead-lettering is at most once (and needs an exchange someone may delete). The controller's
 * deadlines in its store are the authority.
 */
describe('faults: undelivered on time without the broker expiring anything', () => {
  let broker: PrivateBroker;
  let w: Warren;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    await startAgents(w, ['hol', 'nodlx', 'led']);
    admin = await amqplib.connect(broker.url(), { noDelay: true });
    ch = await admin.createChannel();
  }, 120_000);
  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  /** Polls until the task's only invocation is `state`; returns it and the ms since `t0`. */
  async function waitState(
    taskId: string,
    state: string,
    t0: number,
    timeoutMs: number,
  ): Promise<{ r: { state: string; reason: string }; ms: number }> {
    const r = await until(
      async () => {
        const inv = (await w.api('GET', `/v1/tasks/${taskId}`)).body.results[0];
        return inv.state === state ? inv : null;
      },
      timeoutMs,
      50,
    );
    return { r, ms: Date.now() - t0 };
  }

  it('marks a 5-second command stuck behind a 1-hour one `undelivered` within 5 s + 5 s (agent offline), and never runs it', async () => {
    const ledger = new Ledger(w, 'head-of-line');
    await w.agents.get('hol')!.stop('SIGTERM');
    const head = await ledger.send(['hol'], { timeoutMs: 3_600_000, deliveryTimeoutMs: 3_600_000 });
    const t0 = Date.now();
    const short = await ledger.send(['hol'], { deliveryTimeoutMs: 5_000 });
    const { r, ms } = await waitState(short, 'undelivered', t0, 15_000);
    console.log(`[faults] head-of-line: short command undelivered after ${ms} ms (delivery timeout 5000 ms)`);
    expect(ms).toBeGreaterThanOrEqual(4_900);
    expect(ms).toBeLessThan(5_000 + 5_000);
    expect(r.reason).toMatch(BY_DEADLINE);
    // The broker has not expired it: it still sits behind the head.
    expect((await ch.checkQueue(agentQueue(w.ns, 'hol'))).messageCount).toBe(2);
    expect((await w.api('GET', `/v1/tasks/${head}`)).body.results[0].state).toBe('pending');

    // Back online: the 1-hour one runs; the expired one never does.
    await w.startAgent('hol', agentEnv('hol'));
    const counts = await ledger.settle(0, 2_000);
    // The head's deadline is an hour away: settle returned because both are terminal.
    ledger.report(counts, { undeliveredAfterMs: ms });
    expect(counts).toEqual({
      invocations: 2,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { succeeded: 1, undelivered: 1 },
    });
    expect(ledger.runsOf(short, 'hol')).toBe(0);
    expect(ledger.runsOf(head, 'hol')).toBe(1);
  }, 60_000);

  it('marks a command `undelivered` on time with the dead-letter exchange deleted', async () => {
    const ledger = new Ledger(w, 'dead-letter exchange deleted');
    await w.agents.get('nodlx')!.stop('SIGTERM');
    await ch.deleteExchange(deadLetterExchange(w.ns));
    const probe = await admin.createChannel();
    probe.on('error', () => undefined); // the failed passive declare closes it
    await expect(probe.checkExchange(deadLetterExchange(w.ns))).rejects.toThrow(/NOT_FOUND/);
    const t0 = Date.now();
    const task = await ledger.send(['nodlx'], { deliveryTimeoutMs: 3_000 });
    const { r, ms } = await waitState(task, 'undelivered', t0, 15_000);
    console.log(`[faults] dead-letter exchange deleted: undelivered after ${ms} ms (delivery timeout 3000 ms)`);
    expect(ms).toBeLessThan(3_000 + 5_000);
    expect(r.reason).toMatch(BY_DEADLINE);
    // The broker expired it at the head, with nowhere to dead-letter it.
    await until(async () => (await ch.checkQueue(agentQueue(w.ns, 'nodlx'))).messageCount === 0, 5_000);

    await w.startAgent('nodlx', agentEnv('nodlx'));
    const counts = await ledger.settle(0, 1_000);
    ledger.report(counts, { undeliveredAfterMs: ms });
    expect(counts).toEqual({
      invocations: 1,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { undelivered: 1 },
    });
  }, 60_000);

  it('the ledger itself sees a duplicate, an invented run and a state that contradicts the side effect (so the counts above can fail)', async () => {
    const ledger = new Ledger(w, 'ledger self-check');
    const ran = await ledger.send(['led']);
    const never = await ledger.send(['no-such-host']);
    await until(() => ledger.runsOf(ran, 'led') === 1, 10_000);
    const [line] = ledger.executions();
    const neverToken = /echo (tok[0-9a-f]+)-/.exec(ledger.commandOf(never))![1];
    // Ran twice; ran though never sent; ran though the controller says it could not have.
    appendFileSync(ledger.sideFile, `${line}\ntok000000000000-led\n${neverToken}-no-such-host\n`);
    const counts = await ledger.settle(0, 0);
    expect(counts).toEqual({
      invocations: 2,
      unfinished: 0,
      duplicated: 1,
      unexpected: 1,
      inconsistent: 1,
      byState: { succeeded: 1, unknown_host: 1 },
    });
  }, 30_000);
});
