import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import {
  type CommandMessage,
  commandExchange,
  encode,
  PROTOCOL_VERSION,
  readSigningKeyFile,
  resultsQueue,
  signBody,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../../support/private-broker';
import { groupAlive, until, Warren } from '../harness';
import { agentEnv, Ledger, startAgents } from './ledger';

const CONTROLLER_HOSTS = ['c1', 'c2', 'c3', 'c4'];

/** A process dies hard (SIGKILL: no goodbye, no drain) and comes back; the broker stays up. */
describe('faults: an agent or the controller SIGKILLed and restarted', () => {
  let broker: PrivateBroker;
  let w: Warren;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  const orphans: number[] = [];

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    await startAgents(w, ['k1'], ['--concurrency', '1']);
    await startAgents(w, CONTROLLER_HOSTS);
    admin = await amqplib.connect(broker.url(), { noDelay: true });
    ch = await admin.createConfirmChannel();
  }, 120_000);
  afterAll(async () => {
    for (const pgid of orphans) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await admin?.close().catch(() => undefined);
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  it('an agent SIGKILLed mid-command: that invocation ends `lost`, is never run again (restart, re-published copy), and the commands behind it and after it run once', async () => {
    const ledger = new Ledger(w, 'agent SIGKILL mid-command');
    const pidFile = join(w.dir, 'k1-long.pid');
    // Runs past the kill: the agent dies, its command's process group lives on (as on a real host).
    const long = await ledger.send(['k1'], {
      before: `echo $$ > ${pidFile}`,
      after: 'sleep 30',
      timeoutMs: 2_000,
      killGraceMs: 500,
    });
    // Behind it (concurrency 1): one waits unacked in the agent, the others in the queue.
    for (let i = 0; i < 3; i++) await ledger.send(['k1'], { timeoutMs: 10_000 });
    await until(async () => (await w.api('GET', `/v1/tasks/${long}`)).body.results[0].state === 'running', 10_000);
    await until(() => ledger.runsOf(long, 'k1') === 1, 5_000);
    orphans.push(Number(readFileSync(pidFile, 'utf8')));

    await w.agents.get('k1')!.stop('SIGKILL');
    const restarted = await w.startAgent('k1', agentEnv('k1'), ['--concurrency', '1']);

    // The controller's re-publish after a lost confirm looks exactly like this: same invocation, signed.
    const invocationId = (await w.api('GET', `/v1/tasks/${long}`)).body.results[0].invocationId as string;
    const copy: CommandMessage = {
      v: PROTOCOL_VERSION,
      kind: 'command',
      invocationId,
      taskId: long,
      host: 'k1',
      command: ledger.commandOf(long),
      runAs: null,
      cwd: null,
      env: {},
      timeoutMs: 2_000,
      killGraceMs: 500,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      replyTo: resultsQueue(w.ns),
    };
    const body = encode(copy);
    await new Promise<void>((res, rej) =>
      ch.publish(
        commandExchange(w.ns),
        'k1',
        body,
        {
          headers: signBody(body, readSigningKeyFile(w.controllerKeyPath)),
          correlationId: invocationId,
          persistent: true,
        },
        (err) => (err ? rej(err) : res()),
      ),
    );
    const refusal = await restarted.waitFor(
      new RegExp(
        `"correlationId":"${invocationId}".*"rejected message"|"rejected message".*"correlationId":"${invocationId}"`,
      ),
      10_000,
    );
    expect(refusal).toMatch(/"code":"replay"/);

    const lost = (await w.api('GET', `/v1/tasks/${long}?waitMs=10000`)).body;
    expect(lost.results[0].state).toBe('lost');
    const later = await ledger.send(['k1'], { timeoutMs: 10_000 });
    const counts = await ledger.settle();
    ledger.report(counts);
    expect(counts).toEqual({
      invocations: 5,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { lost: 1, succeeded: 4 },
    });
    expect(ledger.runsOf(long, 'k1')).toBe(1);
    expect(ledger.runsOf(later, 'k1')).toBe(1);
    // Still running: nothing the agent or the controller did killed or re-ran it.
    expect(groupAlive(orphans[0])).toBe(true);
  }, 60_000);

  it('the controller SIGKILLed with results waiting, then restarted: every result stored once, every task ends', async () => {
    const ledger = new Ledger(w, 'controller SIGKILL');
    for (let i = 0; i < 10; i++)
      await ledger.send(CONTROLLER_HOSTS, { before: 'sleep 1', timeoutMs: 15_000, deliveryTimeoutMs: 30_000 });
    await w.controller!.stop('SIGKILL');
    // The agents finish while no controller listens: every result waits in the durable results queue.
    await until(() => ledger.executions().length === 40, 20_000);
    const finished = (h: string) =>
      ledger.taskIds.every((id) =>
        w.agents
          .get(h)!
          .output.split('\n')
          .some((l) => l.includes(id) && l.includes('"invocation finished"')),
      );
    await until(() => CONTROLLER_HOSTS.every(finished), 10_000);
    const waiting = await until(async () => {
      const n = (await ch.checkQueue(resultsQueue(w.ns))).messageCount;
      return n >= 40 ? n : null;
    }, 5_000);

    await w.startController();
    const counts = await ledger.settle();
    ledger.report(counts, { resultsWaitingAtRestart: waiting });
    expect(counts).toEqual({
      invocations: 40,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { succeeded: 40 },
    });
    for (const id of ledger.taskIds) {
      const t = (await w.api('GET', `/v1/tasks/${id}`)).body;
      expect(t.state).toBe('completed');
      expect(t.results.map((r: { host: string }) => r.host).sort()).toEqual(CONTROLLER_HOSTS);
    }
    // Everything stored was acked: nothing left for a third controller to store again.
    await until(async () => (await ch.checkQueue(resultsQueue(w.ns))).messageCount === 0, 5_000);
  }, 90_000);
});
