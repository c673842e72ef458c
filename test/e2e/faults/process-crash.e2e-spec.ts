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
import { holdQueue, lockStore, storedReplyKeys } from './results-queue';

const CONTROLLER_HOSTS = ['c1', 'c2', 'c3', 'c4'];

/** A process stops or dies hard (SIGKILL: no goodbye, no drain) and comes back; the broker stays up. */
describe('faults: an agent or the controller killed (or stopped) and restarted', () => {
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
      namespace: w.ns,
      agentKeyId: await w.hostKeyId('k1'),
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

  // Last: it stops every agent.
  it('the controller stopped (SIGTERM) with results in flight, then SIGKILLed holding replies its store cannot commit: nothing is acked before it is stored, and a restart stores every result once', async () => {
    const ledger = new Ledger(w, 'controller stopped, then SIGKILLed before its commit');
    for (let i = 0; i < 10; i++)
      await ledger.send(CONTROLLER_HOSTS, {
        before: 'sleep 3', // longer than the ten POSTs take: no result comes before the stop
        after: 'echo finished',
        timeoutMs: 60_000,
        deliveryTimeoutMs: 60_000,
      });
    // SIGTERM while the commands run: it stops taking replies and exits 0, logging no error.
    const first = w.controller!;
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const stopping = first.output.slice(first.output.indexOf('"shutting down"'));
    expect(stopping).toMatch(/"shutting down"/);
    expect(stopping).not.toMatch(/"level":(50|60)/);

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
    // Their work is done; their heartbeats are writes, which the locked store below would hold up.
    await Promise.all([...w.agents.values()].map((a) => a.stop('SIGTERM')));
    const results = resultsQueue(w.ns);
    const waiting = (await ch.checkQueue(results)).messageCount;
    const held = await holdQueue(admin, results, (m) => m.length >= waiting);
    expect(held.messages).toHaveLength(waiting);
    const mustStore = storedReplyKeys(held.messages);
    expect(mustStore.filter((k) => k.startsWith('result '))).toHaveLength(40);

    // Restarted, it gets the replies only once the test holds the store's write lock: every commit it
    // tries fails, so any reply it acks meanwhile is acked before it is stored. Then it is SIGKILLed.
    const second = await w.startController();
    await w.api('GET', `/v1/tasks/${ledger.taskIds[0]}`); // the token's last use is written now, not under the lock
    const lock = lockStore(w.dbPath);
    try {
      await held.release();
      await second.waitFor(/storing replies failed/, 30_000); // it took replies and tried to commit them
      // Answered after a timer of the controller's, so after the event-loop turn in which amqplib
      // writes to the socket any ack issued before that failed commit.
      await w.api('GET', `/v1/tasks/${ledger.taskIds[0]}?waitMs=200`);
      await second.stop('SIGKILL');
      await until(async () => (await ch.checkQueue(results)).consumerCount === 0, 10_000);
      // Nothing was stored, so nothing may have been acked: every reply the store needs is back in the queue.
      const back = await holdQueue(admin, results, (m) => storedReplyKeys(m).length >= mustStore.length);
      expect(storedReplyKeys(back.messages)).toEqual(mustStore);
      await back.release();
    } finally {
      lock.release();
    }

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
      const rows = t.results.map((r: { host: string; state: string; stdout: string }) => [r.host, r.state, r.stdout]);
      expect(rows.sort()).toEqual(CONTROLLER_HOSTS.map((h) => [h, 'succeeded', 'finished\n']));
    }
    const check = await w.cli(['check', ledger.taskIds[0]]);
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/4 hosts: 4 succeeded/);
    // Everything stored was acked: nothing left for a third controller to store again.
    await until(async () => (await ch.checkQueue(results)).messageCount === 0, 5_000);
  }, 120_000);
});
