import { AmqpConnection, type AmqpLogger, ConfirmPublisher, PublishNackedError } from '@warren/amqp';
import { agentQueue, resultsQueue } from '@warren/protocol';
import * as amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RabbitCluster, type RabbitNode, startRabbitCluster } from '../../support/rabbit-cluster';
import { sleep, until, Warren } from '../harness';
import { ConfirmProbe, connectedLines, currentNode, median, rotated } from './cluster.measure';
import { Controllers, type SharedDatabase, sharedDatabase } from './controllers';
import { agentEnv, Ledger } from './ledger';

const HOSTS = Array.from({ length: 20 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
/**
 * The node each agent's URL list starts with: half on node 0 (where controller A, which declares
 * the results queue, connects first), a quarter on each other node. A new quorum queue is led by
 * the node its declaring client is connected to (`queue_leader_locator = client-local`, RabbitMQ's
 * default), so node 0 leads the results queue and most inboxes.
 */
const firstNodeOf = (i: number) => (i % 2 === 0 ? 0 : i % 4 === 1 ? 1 : 2);

/**
 * A 3-node RabbitMQ cluster of private nodes, quorum queues, two controllers on one PostgreSQL
 * database, 20 agents each knowing all three node URLs. The node leading the results queue and most
 * inboxes goes away with 200 invocations in flight: once stopped cleanly, once SIGKILLed (then
 * started again). Nothing may be lost, run twice or run unasked; the agents that were connected to
 * it reconnect to another node and keep their inboxes.
 */
describe('faults: a RabbitMQ cluster node leading the results queue dies with 200 invocations in flight (quorum queues, 2 controllers, 20 agents)', () => {
  let cluster: RabbitCluster;
  let w: Warren;
  let db: SharedDatabase;
  let cs: Controllers;
  /** failover probes, stopped in `afterAll` if a scenario failed before stopping its own */
  const probes = new Set<ConfirmProbe>();

  beforeAll(async () => {
    cluster = await startRabbitCluster();
    console.log(`[faults] 3-node RabbitMQ cluster started in ${cluster.startMs} ms`);
    // Every process of the installation on quorum queues (`--queue-type quorum`, through WARREN_QUEUE_TYPE).
    w = new Warren({ brokerUrl: cluster.urls.join(','), queueType: 'quorum' });
    db = await sharedDatabase('rabbit_cluster', w);
    cs = new Controllers(w, db);
    // A first, on node 0: it declares the results queue there, writes the key the agents trust and accepts them.
    await cs.start('a');
    for (let i = 0; i < HOSTS.length; i += 5)
      await Promise.all(
        HOSTS.slice(i, i + 5).map((h, j) =>
          w.startAgent(h, agentEnv(h), [], {
            brokerUrl: rotated(cluster.urls, firstNodeOf(i + j)).join(','),
          }),
        ),
      );
    // B on node 1: its results consumer stays up while node 0 goes.
    await cs.start('b', ['--auto-accept'], {}, { brokerUrl: rotated(cluster.urls, 1).join(',') });
    await cs.waitHosts('b', HOSTS);
  }, 180_000);
  afterAll(async () => {
    await Promise.all([...probes].map((p) => p.stop()));
    for (const [name, text] of Object.entries(cs?.crashReports() ?? {}))
      console.error(`controller ${name} crashed:\n${text}`);
    await cs?.teardown();
    // The cluster first: its queues go with it, and deleting a quorum queue one of whose members is
    // down (a failed scenario's node) can wait without end. w.teardown then finds no broker, and
    // still kills the agents and removes their cgroups and files.
    await cluster?.destroy();
    await w?.teardown().catch(() => undefined);
    await db?.drop();
  });

  /** Hosts whose agent is connected to `node` now (by its last `amqp connected` line). */
  function agentsOn(node: RabbitNode): string[] {
    return HOSTS.filter((h) => currentNode(cluster, w.agents.get(h)!.output)?.name === node.name);
  }

  /**
   * 10 tasks × 20 hosts through controller A; once 20 have run, the node leading the results queue
   * goes `down`. Then: every task ends with nothing lost, duplicated or invented; each agent that
   * was on that node reconnects to another and runs a new task (its inbox kept). Logs the failover
   * and reconnect times.
   */
  async function wave(scenario: string, down: (victim: RabbitNode) => Promise<void>): Promise<RabbitNode> {
    // A scenario that failed may have left its node down: every scenario starts with three.
    for (const n of cluster.nodes) if (!(await n.running())) await n.start();
    const victim = cluster.node(await cluster.leaderOf(resultsQueue(w.ns)));
    const leaders = await cluster.leaders(`${w.ns}.`);
    const inboxesLed = Object.fromEntries(
      cluster.nodes.map((n) => [n.name, HOSTS.filter((h) => leaders.get(agentQueue(w.ns, h)) === n.name).length]),
    );
    const onVictim = agentsOn(victim);
    expect(onVictim.length, 'agents connected to the node that will die').toBeGreaterThanOrEqual(5);
    const via = cluster.nodes.find((n) => n !== victim)!;
    const probe = await ConfirmProbe.start(cluster, `${w.ns}.probe.${scenario.replace(/\W+/g, '-')}`, victim, via);
    probes.add(probe);
    const logFrom = new Map(HOSTS.map((h) => [h, w.agents.get(h)!.output.length]));

    cs.use('a');
    const ledger = new Ledger(w, scenario);
    // Staggered sleeps: at the fault some commands run, some results are in flight, some commands
    // wait unacked in the agents and the rest sit in the inboxes.
    for (let i = 0; i < 10; i++)
      await ledger.send(HOSTS, {
        before: `sleep ${(0.5 + (i % 4) * 0.5).toFixed(1)}`,
        timeoutMs: 20_000,
        deliveryTimeoutMs: 40_000,
        killGraceMs: 1_000,
      });
    await until(() => ledger.executions().length >= 20, 30_000);
    const faultAt = Date.now();
    let downMs = 0;
    // The states at the fault, read while the node goes down (reading them first would let more finish).
    const [atFault] = await Promise.all([
      ledger.snapshot(),
      down(victim).then(() => {
        probe.markDown();
        downMs = Date.now() - faultAt;
      }),
    ]);

    // Every agent of the dead node comes back through another node.
    const back = new Map<string, number>();
    await until(() => {
      for (const h of onVictim) {
        const again = connectedLines(w.agents.get(h)!.output.slice(logFrom.get(h)));
        const elsewhere = again.find((c) => c.port !== victim.port);
        if (elsewhere) back.set(h, elsewhere.time - faultAt);
      }
      return back.size === onVictim.length;
    }, 60_000).catch(() => {
      throw new Error(`agents not reconnected to another node: ${onVictim.filter((h) => !back.has(h)).join(' ')}`);
    });
    const counts = await ledger.settle();
    const failover = await probe.stop();
    probes.delete(probe);
    ledger.report(counts, {
      victim: victim.name,
      atFault,
      inboxesLed,
      agentsOnVictim: onVictim.length,
      nodeDownMs: downMs,
      failover,
      agentReconnectMs: { median: median([...back.values()]), max: Math.max(...back.values()) },
    });
    // Diagnostics only (the assertions below are on the counts above): what did the agents say
    // about publishing their replies, and, after a failure, were the replies late or gone?
    {
      if (counts.byState.succeeded !== 200) {
        await sleep(15_000);
        ledger.report(await ledger.settle(0, 0), { note: '15 s later' });
      }
      const said = (re: RegExp) =>
        HOSTS.map(
          (h) =>
            `${h}:${
              w.agents
                .get(h)!
                .output.slice(logFrom.get(h))
                .split('\n')
                .filter((l) => re.test(l)).length
            }`,
        )
          .filter((x) => !x.endsWith(':0'))
          .join(' ');
      console.log(
        `[faults] agents since the fault: refused replies ${said(/reply refused/)}; undelivered replies ${said(/reply not delivered/)}; connect failures ${said(/amqp connect failed/)}; channel replaced ${said(/channel replaced after a nack/)}; channel given up as stalled ${said(/publish not confirmed in time/)}; not started ${said(/invocation not started/)}`,
      );
    }
    expect(counts).toEqual({
      invocations: 200,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { succeeded: 200 },
    });
    expect(failover.confirmed).toBeGreaterThan(0);
    expect(failover.downToConfirmMs, 'a publish through a surviving node confirmed after the fault').not.toBeNull();
    // Their inboxes are still theirs: a new task reaches each of them through whichever node it is on now.
    for (const h of onVictim) expect(currentNode(cluster, w.agents.get(h)!.output)?.name).not.toBe(victim.name);
    const after = await w.runAndWait({ command: 'echo kept', hosts: onVictim, timeoutMs: 20_000 });
    expect(after.results.map((r) => [r.host, r.state])).toEqual(onVictim.map((h) => [h, 'succeeded']));
    return victim;
  }

  it('loses, duplicates and invents nothing when the node leading the results queue and most inboxes is stopped; its agents reconnect elsewhere and keep their inboxes', async () => {
    const victim = await wave('cluster node stopped', async (v) => {
      // The node the beforeAll placed the results queue and half the inboxes on.
      expect(v.name).toBe(cluster.nodes[0].name);
      await v.stop();
      expect(await v.running()).toBe(false);
    });
    await victim.start();
    expect(await cluster.runningNodes()).toEqual(cluster.nodes.map((n) => n.name).sort());
  }, 150_000);

  it('loses, duplicates and invents nothing when the node leading the results queue is SIGKILLed; it rejoins when started again', async () => {
    const victim = await wave('cluster node SIGKILL', async (v) => {
      await v.kill();
      expect(await v.broker.pids()).toEqual([]);
    });
    await victim.start();
    expect(await cluster.runningNodes()).toEqual(cluster.nodes.map((n) => n.name).sort());
    // Back as a member of the results queue, and serving clients.
    await until(async () => {
      const rows = JSON.parse(await cluster.ctl('list_queues', 'name', 'online', '--formatter', 'json')) as {
        name: string;
        online?: string[];
      }[];
      return rows.find((r) => r.name === resultsQueue(w.ns))?.online?.includes(victim.name);
    }, 30_000);
    const task = await w.runAndWait({ command: 'echo whole', hosts: HOSTS, timeoutMs: 20_000 });
    expect(task.results.filter((r) => r.state === 'succeeded')).toHaveLength(HOSTS.length);
  }, 150_000);
  it('publishes through a fresh channel after a nack: RabbitMQ 3.10 nacks for good a channel whose first publish to a quorum queue came while its leader was dead', async () => {
    const silent: AmqpLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    };
    const queue = `${w.ns}.nack-probe`;
    // Led by node 2, so that the results queue and controller A's node are left alone.
    const decl = await amqplib.connect(cluster.nodes[2].url);
    await (await decl.createChannel()).assertQueue(queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await decl.close();
    let nacked = 0;
    let renewed = 0;
    // The first publishes must fall inside the election (about 0.1 s after the kill): up to three tries.
    for (let round = 0; round < 3 && nacked === 0; round++) {
      for (const n of cluster.nodes) if (!(await n.running())) await n.start();
      const victim = cluster.node(await cluster.leaderOf(queue));
      const via = cluster.nodes.find((n) => n !== victim)!;
      const conn = new AmqpConnection({
        url: via.url,
        name: 'nack-test',
        logger: silent,
        setup: () => Promise.resolve(),
      });
      const pub = new ConfirmPublisher(conn, { logger: silent });
      await pub.start();
      conn.start();
      try {
        await conn.waitConnected(10_000);
        // The channel is open and has not published to the queue yet; its leader dies now.
        const killed = victim.kill();
        const early = await Promise.allSettled(
          [0, 40, 80, 120, 160].map((ms) => sleep(ms).then(() => pub.publish('', queue, Buffer.from('early')))),
        );
        await killed;
        nacked = early.filter((r) => r.status === 'rejected' && r.reason instanceof PublishNackedError).length;
        if (nacked === 0) continue;
        await until(async () => (await cluster.leaderOf(queue).catch(() => victim.name)) !== victim.name, 30_000);
        // Once another node leads, a publish is confirmed within a few tries (each nack retires its channel);
        // on the first channel every one of them would be nacked.
        let confirmed = false;
        for (let i = 0; i < 5 && !confirmed; i++)
          confirmed = await pub.publish('', queue, Buffer.from('later')).then(
            () => true,
            () => sleep(200).then(() => false),
          );
        renewed = pub.renewedChannels;
        expect(confirmed, 'a publish confirmed after the election').toBe(true);
      } finally {
        await pub.close();
        await conn.close();
      }
    }
    console.log(`[faults] nack after a leader kill: ${nacked} early publishes nacked, ${renewed} channels replaced`);
    expect(nacked, 'an early publish fell inside the election (else the scenario did not happen)').toBeGreaterThan(0);
    expect(renewed).toBeGreaterThan(0);
    for (const n of cluster.nodes) if (!(await n.running())) await n.start();
  }, 120_000);
});
