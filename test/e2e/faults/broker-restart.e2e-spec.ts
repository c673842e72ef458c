import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../../support/private-broker';
import { sleep, until, Warren } from '../harness';
import { Ledger, startAgents } from './ledger';
import {
  bounceAndMeasure,
  describeReconnect,
  HERD_WINDOW_MS,
  maxAttemptsWithin,
  peakWithin,
  type ReconnectReport,
} from './reconnect.measure';

/** Every agent: the reconnect figure is 50. */
const FLEET = Array.from({ length: 50 }, (_, i) => `f${String(i + 1).padStart(2, '0')}`);
/** The agents given work: 200 invocations across 20 of them; the other 30 only reconnect. */
const HOSTS = FLEET.slice(0, 20);

/**
 * The broker goes away with 200 invocations across 20 agents running, waiting in the agents and
 * queued in the broker: once stopped cleanly, once SIGKILLed (as a power cut), once SIGKILLed
 * while clients post. Nothing may be lost, run twice, or run unasked, and all 50 agents must
 * consume again within 30 s of the broker's return, spread out by their backoff.
 */
describe('faults: broker restarted or killed with 200 invocations in flight across 20 of 50 agents', () => {
  let broker: PrivateBroker;
  let w: Warren;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    await startAgents(w, FLEET);
  }, 240_000);
  afterAll(async () => {
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  /** 10 tasks × 20 hosts; the broker goes down once a third of them have run. */
  async function wave(scenario: string, down: () => Promise<void>): Promise<ReconnectReport> {
    const ledger = new Ledger(w, scenario);
    // Staggered sleeps: at the cut some commands are running, some just finished (results in
    // flight), some wait unacked in the agents (4 at a time each) and the rest sit in the queues.
    for (let i = 0; i < 10; i++)
      await ledger.send(HOSTS, {
        before: `sleep ${(0.3 + (i % 4) * 0.3).toFixed(1)}`,
        timeoutMs: 20_000,
        deliveryTimeoutMs: 40_000,
        killGraceMs: 1_000,
      });
    await until(() => ledger.executions().length >= 60, 30_000);
    const atCut = await ledger.snapshot();
    const reconnect = await bounceAndMeasure(broker, w, FLEET, down);
    const counts = await ledger.settle();
    ledger.report(counts, { atCut });
    describeReconnect(scenario, reconnect);
    expect(counts).toEqual({
      invocations: 200,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { succeeded: 200 },
    });
    return reconnect;
  }

  function expectOrderlyReconnect(r: ReconnectReport): void {
    expect(r.allConsumingMs).toBeLessThan(30_000);
    // No herd: every agent kept to its backoff, and they did not all come back in one tick.
    expect(r.overBudget).toBe(0);
    expect(
      r.peakInWindow,
      `agents reconnecting within ${HERD_WINDOW_MS} ms: ${r.connectedMs.join(' ')}`,
    ).toBeLessThanOrEqual(FLEET.length / 2);
  }

  it('the herd checks would catch a fleet retrying on a fixed interval (so they can fail)', () => {
    // 6 s away: the backoff allows 6 attempts; a 200 ms fixed retry makes 30, all agents on the same ticks.
    expect(maxAttemptsWithin(6_000)).toBe(6);
    expect(Math.floor(6_000 / 200)).toBeGreaterThan(maxAttemptsWithin(6_000));
    expect(
      peakWithin(
        FLEET.map(() => 5_000),
        HERD_WINDOW_MS,
      ),
    ).toBe(50);
    expect(peakWithin([0, 100, 400, 700, 1_000, 1_100], HERD_WINDOW_MS)).toBe(2);
  });

  it('loses, duplicates and invents nothing across a clean broker restart, and all 50 agents consume again within 30 s', async () => {
    const r = await wave('broker restart', () => broker.stop());
    expectOrderlyReconnect(r);
  }, 150_000);

  it('loses, duplicates and invents nothing when the broker node is SIGKILLed and started again', async () => {
    const r = await wave('broker SIGKILL', async () => {
      const pids = await broker.pids();
      expect(pids.length).toBeGreaterThan(0);
      await broker.killHard();
      expect(await broker.pids()).toEqual([]);
    });
    expectOrderlyReconnect(r);
  }, 150_000);

  it('re-publishes what the broker never confirmed, and runs it once: tasks posted while the broker is SIGKILLed run once or are refused, never both', async () => {
    const ledger = new Ledger(w, 'broker SIGKILL while publishing');
    const controllerLogFrom = w.controller!.output.length;
    const agentLogFrom = new Map(HOSTS.map((h) => [h, w.agents.get(h)!.output.length]));
    let posting = true;
    /** A client posting tasks of 5 hosts until told to stop; the ledger records what was refused. */
    const poster = async (k: number) => {
      while (posting) {
        const r = await ledger.trySend(HOSTS.slice(k * 5, k * 5 + 5), {
          before: 'sleep 0.2',
          timeoutMs: 20_000,
          deliveryTimeoutMs: 40_000,
          killGraceMs: 1_000,
        });
        // Paced: enough to have publishes in flight at the kill without flooding two cores with shells.
        await sleep(typeof r === 'string' ? 200 : 100);
      }
    };
    const posters = Promise.all([0, 1, 2, 3].map(poster));
    try {
      await until(() => ledger.taskIds.length >= 12, 20_000);
      const acceptedBefore = ledger.taskIds.length;
      await bounceAndMeasure(broker, w, FLEET, async () => {
        // Frozen first, so that the posts under way are surely sent and surely unconfirmed when the node dies.
        for (const pid of await broker.pids()) process.kill(pid, 'SIGSTOP');
        await sleep(500);
        await broker.killHard();
        // While it is away a post is refused; one that slipped in before the controller noticed ends `error`, unsent.
        await until(
          async () =>
            typeof (await ledger.trySend(HOSTS.slice(0, 5), { timeoutMs: 20_000, deliveryTimeoutMs: 40_000 })) !==
            'string',
          5_000,
          50,
        );
      });
      await until(() => ledger.taskIds.length >= acceptedBefore + 12, 30_000);
    } finally {
      posting = false;
      await posters;
    }
    const counts = await ledger.settle();
    const refusedStatuses = [...new Set(ledger.refused)];
    // How many commands the controller held over the reconnect and sent again, and how many copies the agents refused as replays.
    const heldOver = [
      ...w
        .controller!.output.slice(controllerLogFrom)
        .matchAll(/"count":(\d+)[^\n]*"published messages held over a reconnect"/g),
    ].reduce((n, m) => n + Number(m[1]), 0);
    const replays = HOSTS.reduce(
      (n, h) =>
        n +
        (
          w.agents
            .get(h)!
            .output.slice(agentLogFrom.get(h))
            .match(/"code":"replay"[^\n]*"rejected message"/g) ?? []
        ).length,
      0,
    );
    ledger.report(counts, {
      refused: ledger.refused.length,
      refusedStatuses,
      heldOverReconnect: heldOver,
      replaysRefused: replays,
    });
    // Refused while the broker was away: 503, nothing stored or sent (a refused task's token never shows up).
    expect(ledger.refused.length).toBeGreaterThan(0);
    expect(refusedStatuses).toEqual([503]);
    expect(counts).toMatchObject({ unfinished: 0, duplicated: 0, unexpected: 0, inconsistent: 0 });
    expect(counts.invocations).toBe(ledger.taskIds.length * 5);
    // `error` only for a post accepted in the instant before the controller saw the broker go (never sent, never run).
    expect(Object.keys(counts.byState).filter((s) => s !== 'succeeded' && s !== 'error')).toEqual([]);
    expect(counts.byState.error ?? 0).toBeLessThanOrEqual(5);
    expect(heldOver).toBeGreaterThan(0);
  }, 150_000);
});
