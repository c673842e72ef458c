import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres } from '../../support/private-postgres';
import { sleep, until, Warren } from '../harness';
import { Controllers } from './controllers';
import { Ledger, type SendOptions, startAgents } from './ledger';

const HOSTS = Array.from({ length: 10 }, (_, i) => `r${String(i + 1).padStart(2, '0')}`);
/** How long PostgreSQL stays away in each scenario, ms. */
const DOWN_MS = 5_000;
const TASK: SendOptions = { timeoutMs: 30_000, deliveryTimeoutMs: 60_000, killGraceMs: 1_000 };

/**
 * PostgreSQL goes away under two controllers with 100 invocations across 10 agents in flight (on a
 * private instance: the shared server on 5432 is never touched), once stopped cleanly and once
 * SIGKILLed, for {@link DOWN_MS} each time. While it is away a `POST /v1/tasks` is refused with
 * 503 and nothing is sent; results the agents report meanwhile wait in the results queue, unacked,
 * and are stored once it is back. Nothing may be lost, run twice, run unasked or stored twice.
 */
describe('faults: PostgreSQL restarted or SIGKILLed mid-run under two controllers, 100 invocations across 10 agents', () => {
  let pg: PrivatePostgres;
  let w: Warren;
  let cs: Controllers;
  let dbName = '';

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
    dbName = 'warren';
    const url = await pg.createDatabase(dbName);
    w = new Warren();
    // The database is this instance's, gone with it in afterAll.
    cs = new Controllers(w, { kind: 'postgres', url, drop: () => Promise.resolve() });
    await cs.start('a');
    await startAgents(w, HOSTS);
    await cs.start('b');
    await cs.waitHosts('b', HOSTS);
  }, 180_000);
  afterAll(async () => {
    for (const [name, text] of Object.entries(cs?.crashReports() ?? {}))
      console.error(`controller ${name} crashed:\n${text}`);
    await cs?.teardown();
    await w?.teardown().catch(() => undefined);
    await pg?.destroy();
  });

  /** 10 tasks × 10 hosts posted through A; PostgreSQL goes `down` once half of them have run, and the other half run while it is away. */
  async function wave(scenario: string, down: () => Promise<void>): Promise<void> {
    cs.use('a');
    const ledger = new Ledger(w, scenario);
    // The first 5 tasks run at once, staggered; the last 5 wait for a gate the test opens only once
    // the database is away, so commands surely start and finish while it is (on a slow machine every
    // command could otherwise end before a clean stop completes). They poll it twice a second: 40
    // shells polling faster would starve the rest of two cores.
    const gate = join(w.dir, `gate-${scenario.replace(/[^a-z0-9]+/gi, '-')}`);
    for (let i = 0; i < 10; i++) {
      const wait = i < 5 ? '' : `while [ ! -e ${gate} ]; do sleep 0.5; done; `;
      await ledger.send(HOSTS, { ...TASK, before: `${wait}sleep ${0.2 + (i % 4) * 0.3}` });
    }
    await until(() => ledger.executions().length >= 50, 30_000);
    const atCut = await ledger.snapshot();
    await down();
    const cutAt = Date.now();
    const ranBeforeCut = ledger.executions().length;
    expect(ranBeforeCut).toBe(50);
    writeFileSync(gate, '');
    const refusals: { controller: string; status: number; body: unknown; ms: number }[] = [];
    let ranWhileDown: number;
    try {
      expect(await pg.pids()).toEqual([]);
      // Refused on every controller while it is away (503, a body naming the database); nothing sent.
      for (const c of cs.byName.values()) {
        cs.use(c.name);
        const t0 = Date.now();
        const r = await ledger.trySend(HOSTS.slice(0, 2), TASK);
        if (typeof r === 'string') throw new Error(`POST through ${c.name} accepted task ${r} with the database down`);
        refusals.push({ controller: c.name, ...r, ms: Date.now() - t0 });
      }
      await sleep(Math.max(0, DOWN_MS - (Date.now() - cutAt)));
      ranWhileDown = ledger.executions().length - ranBeforeCut;
      // Both rode it out (a connection error no code listens for would have ended one).
      expect(cs.crashReports()).toEqual({});
      expect(cs.live()).toHaveLength(2);
    } finally {
      // Back even when a check above failed, so that the next scenario starts with a database.
      await pg.start();
    }

    // Back: both controllers serve again (their pools reconnect), and every result is stored once.
    cs.use('b');
    const counts = await ledger.settle(10_000);
    ledger.report(counts, {
      atCut,
      ranWhileDown,
      refusals: refusals.map((r) => `${r.controller}:${r.status}:${r.ms}ms`),
    });
    for (const r of refusals) {
      expect(r.status, JSON.stringify(r)).toBe(503);
      // One line a person can act on, from the one error table (DatabaseUnavailableError).
      expect(r.body).toMatchObject({ statusCode: 503, error: 'DatabaseUnavailableError' });
      expect(String((r.body as { message: unknown }).message)).toMatch(/database/i);
      expect(r.ms).toBeLessThan(10_000);
    }
    // Results reported while the database was away waited in the queue and were stored afterwards.
    expect(ranWhileDown).toBeGreaterThan(0);
    expect(counts).toEqual({
      invocations: 100,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { succeeded: 100 },
    });
    // Stored exactly once: one result per host through each controller, one row per invocation in the table.
    for (const c of cs.live())
      for (const id of ledger.taskIds) {
        const res = await cs.api(c.name, 'GET', `/v1/tasks/${id}`);
        expect(res.status).toBe(200);
        expect((res.body.results as { host: string }[]).map((r) => r.host).sort()).toEqual(HOSTS);
      }
    const rows = await pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM invocations WHERE task_id = ANY($1)',
      [ledger.taskIds],
      dbName,
    );
    expect(rows).toEqual([{ n: 100 }]);
    // Neither controller died of it, and a new task runs through each.
    expect(cs.live().map((c) => c.name)).toEqual(['a', 'b']);
    for (const c of cs.live()) {
      const res = await cs.api(c.name, 'POST', '/v1/tasks', { command: 'true', hosts: HOSTS.slice(0, 1), wait: true });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.results[0].state).toBe('succeeded');
    }
  }

  it('loses, duplicates and invents nothing across a clean PostgreSQL restart; POST while it is down is a 503 and sends nothing', async () => {
    await wave('postgres restart', () => pg.stop());
  }, 180_000);

  it('loses, duplicates and invents nothing when PostgreSQL is SIGKILLed and started again', async () => {
    await wave('postgres SIGKILL', async () => {
      expect((await pg.pids()).length).toBeGreaterThan(0);
      await pg.killHard();
    });
  }, 180_000);
});
