import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateBroker } from '../../../support/private-broker';
import { until, Warren } from '../../harness';
import { Ledger, startAgents } from '../ledger';
import { bounceAndMeasure, describeReconnect, HERD_WINDOW_MS } from '../reconnect.measure';

/** Agents in the fleet; `WARREN_CHAOS_AGENTS` overrides (the figure is 50). */
const FLEET = Number(process.env.WARREN_CHAOS_AGENTS ?? 50);
const HOSTS = Array.from({ length: FLEET }, (_, i) => `z${String(i + 1).padStart(3, '0')}`);

/**
 * A fleet of real agents on a private broker that is restarted, SIGKILLed and restarted again,
 * each time with work in flight: every agent must consume again within 30 s of the broker's
 * return, spread out by its jittered backoff, and nothing may be lost, run twice or invented.
 */
describe(`chaos: ${FLEET} agents through three broker outages`, () => {
  let broker: PrivateBroker;
  let w: Warren;

  beforeAll(async () => {
    broker = await PrivateBroker.start();
    w = new Warren({ brokerUrl: broker.url() });
    await w.startController();
    const t0 = Date.now();
    await startAgents(w, HOSTS, [], 5);
    console.log(`[chaos] ${FLEET} agents online in ${Date.now() - t0} ms`);
  });
  afterAll(async () => {
    await w?.teardown().catch(() => undefined);
    await broker?.destroy();
  });

  const outages: [string, () => Promise<void>][] = [
    ['clean restart', () => broker.stop()],
    ['SIGKILL', () => broker.killHard()],
    ['clean restart again', () => broker.stop()],
  ];

  for (const [label, down] of outages) {
    it(`${label}: all ${FLEET} agents consume again within 30 s without a herd; nothing lost, duplicated or invented`, async () => {
      const ledger = new Ledger(w, `chaos ${label}`);
      for (let i = 0; i < 4; i++)
        await ledger.send(HOSTS, {
          before: `sleep ${(0.5 + i * 0.5).toFixed(1)}`,
          timeoutMs: 30_000,
          deliveryTimeoutMs: 60_000,
          killGraceMs: 1_000,
        });
      await until(() => ledger.executions().length >= FLEET, 60_000);
      const atCut = await ledger.snapshot();
      const r = await bounceAndMeasure(broker, w, HOSTS, down);
      const counts = await ledger.settle();
      ledger.report(counts, { atCut });
      describeReconnect(`${FLEET} agents, ${label}`, r);
      expect(counts).toEqual({
        invocations: 4 * FLEET,
        unfinished: 0,
        duplicated: 0,
        unexpected: 0,
        inconsistent: 0,
        byState: { succeeded: 4 * FLEET },
      });
      expect(r.allConsumingMs).toBeLessThan(30_000);
      expect(r.overBudget).toBe(0);
      expect(
        r.peakInWindow,
        `agents reconnecting within ${HERD_WINDOW_MS} ms: ${r.connectedMs.join(' ')}`,
      ).toBeLessThanOrEqual(FLEET / 2);
    });
  }
});
