import * as amqplib from 'amqplib';
import { agentQueue } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../../support/private-broker';
import { until, Warren } from '../harness';
import { Ledger, startAgents } from './ledger';
import { PartitionProxy } from './partition.proxy';

/** s; AMQP heartbeat of the cut-off agent, so both ends notice the silence within seconds */
const HEARTBEAT_SEC = 2;

/**
 * An agent cut off from the broker by a network fault: packets stop, nothing is closed. The
 * agent and the broker must both notice through AMQP heartbeats; commands the agent held unacked
 * go back to its queue, results it could not send wait, and after the heal it catches up, running
 * nothing twice. `p2` is on the same broker without the fault.
 */
describe('faults: an agent partitioned from the broker, then healed', () => {
  let broker: PrivateBroker;
  let proxy: PartitionProxy;
  let w: Warren;
  let admin: amqplib.ChannelModel;
  let ch: amqplib.Channel;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    proxy = await PartitionProxy.start(broker.port);
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    // A later --broker wins over the harness's own.
    await startAgents(
      w,
      ['p1'],
      ['--broker', proxy.url(), '--amqp-heartbeat', String(HEARTBEAT_SEC), '--concurrency', '2'],
    );
    await startAgents(w, ['p2'], ['--concurrency', '2']);
    admin = await amqplib.connect(broker.url(), { noDelay: true });
    ch = await admin.createChannel();
  }, 120_000);
  afterAll(async () => {
    await admin?.close().catch(() => undefined);
    await proxy?.close();
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  const consumers = async (host: string) => (await ch.checkQueue(agentQueue(w.ns, host))).consumerCount;

  it('runs every command once, loses none and invents none across a partition both ends detect by heartbeat', async () => {
    const ledger = new Ledger(w, 'agent partitioned');
    const p1 = w.agents.get('p1')!;
    expect(proxy.connections).toBeGreaterThan(0);
    for (let i = 0; i < 12; i++)
      await ledger.send(['p1', 'p2'], { before: 'sleep 0.5', timeoutMs: 20_000, deliveryTimeoutMs: 60_000 });
    // Cut while p1 runs two and holds two more unacked.
    await until(() => ledger.executions().filter((l) => l.endsWith('-p1')).length >= 2, 10_000);
    const logFrom = p1.output.length;
    proxy.partition();
    const cutAt = Date.now();

    // Each end notices on its own heartbeat: the broker takes p1's consumer away (returning its
    // unacked commands to the queue), the agent drops the connection and retries with backoff.
    const [brokerNoticedMs, agentNoticedMs] = await Promise.all([
      until(async () => (await consumers('p1')) === 0, 20_000, 100).then(() => Date.now() - cutAt),
      until(() => p1.output.slice(logFrom).includes('"amqp connection lost; reconnecting"'), 20_000).then(
        () => Date.now() - cutAt,
      ),
    ]);
    expect(p1.alive).toBe(true);
    const during = await ledger.snapshot();

    proxy.heal();
    const healedAt = Date.now();
    await until(async () => (await consumers('p1')) === 1, 30_000, 100);
    const backMs = Date.now() - healedAt;
    const counts = await ledger.settle();
    ledger.report(counts, { brokerNoticedMs, agentNoticedMs, consumingAgainAfterHealMs: backMs, atHeal: during });
    expect(counts).toEqual({
      invocations: 24,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { succeeded: 24 },
    });
    // Both ends noticed within a few heartbeats, not at TCP's timeouts (minutes).
    expect(brokerNoticedMs).toBeLessThan(HEARTBEAT_SEC * 1000 * 4);
    expect(agentNoticedMs).toBeLessThan(HEARTBEAT_SEC * 1000 * 4);
  }, 120_000);
});
