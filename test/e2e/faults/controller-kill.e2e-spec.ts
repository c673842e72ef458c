import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, Warren } from '../harness';
import { Controllers, type SharedDatabase, sharedDatabase } from './controllers';
import { Ledger, startAgents } from './ledger';

const HOSTS = Array.from({ length: 20 }, (_, i) => `k${String(i + 1).padStart(2, '0')}`);
/** A rolling run's hosts at once: 20 hosts in five steps, so A dies with steps left to send. */
const ROLLING_CONCURRENCY = 4;

/**
 * The log lines that say a controller applied a verdict nobody reported: the deadline sweeper's
 * (`undelivered` or `lost`, claimed from the store) and the dead-letter consumer's (`undelivered`,
 * a command that expired in its host queue; logged only when the store took it). Whichever comes
 * first wins; each invocation must get exactly one across every controller.
 */
const VERDICT_MSGS = new Set(['invocation deadline passed', 'command expired unread']);

/**
 * How many verdict lines each invocation got in `logs` (JSON lines of any number of controllers),
 * and how many of each kind each controller wrote, keyed by the `name` given with each log.
 */
function verdictLines(logs: { name: string; output: string }[]): {
  perInvocation: Map<string, number>;
  perController: Record<string, Record<string, number>>;
} {
  const perInvocation = new Map<string, number>();
  const perController: Record<string, Record<string, number>> = {};
  for (const { name, output } of logs) {
    for (const line of output.split('\n')) {
      if (![...VERDICT_MSGS].some((m) => line.includes(m))) continue;
      const entry = JSON.parse(line) as { msg: string; correlationId: string };
      if (!VERDICT_MSGS.has(entry.msg)) continue;
      perInvocation.set(entry.correlationId, (perInvocation.get(entry.correlationId) ?? 0) + 1);
      const mine = (perController[name] ??= {});
      mine[entry.msg] = (mine[entry.msg] ?? 0) + 1;
    }
  }
  return { perInvocation, perController };
}

/**
 * Several controllers on one database (PostgreSQL, or one SQLite file with WARREN_FAULT_DB=sqlite):
 * one is SIGKILLed with 200 invocations in flight, some of them in a rolling run, and the others
 * finish every task; then three controllers sweep the same overdue invocations and each gets one
 * verdict.
 */
describe('faults: a controller SIGKILLed among several sharing one database', () => {
  let w: Warren;
  let db: SharedDatabase;
  let cs: Controllers;
  /** process groups of commands left running by SIGKILLed agents */
  const orphanFile = () => join(w.dir, 'orphans');

  beforeAll(async () => {
    w = new Warren();
    db = await sharedDatabase('controller_kill', w);
    cs = new Controllers(w, db);
    // A first: it writes the signing key the agents trust, and accepts their keys (--auto-accept).
    await cs.start('a');
    await startAgents(w, HOSTS);
    await cs.start('b');
    await cs.start('c');
    await cs.waitHosts('b', HOSTS);
    await cs.waitHosts('c', HOSTS);
  }, 240_000);
  afterAll(async () => {
    if (w && existsSync(orphanFile()))
      for (const pgid of readFileSync(orphanFile(), 'utf8').split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    for (const [name, text] of Object.entries(cs?.crashReports() ?? {}))
      console.error(`controller ${name} crashed:\n${text}`);
    await cs?.teardown();
    await w?.teardown().catch(() => undefined);
    await db?.drop();
  });

  it('the verdict count would catch a verdict applied twice (so it can fail)', () => {
    const line = (id: string, msg = 'invocation deadline passed') =>
      JSON.stringify({ level: 40, correlationId: id, msg });
    const { perInvocation, perController } = verdictLines([
      { name: 'a', output: [line('i1'), line('i2'), '{"msg":"other"}'].join('\n') },
      { name: 'b', output: line('i2', 'command expired unread') },
    ]);
    expect(Object.fromEntries(perInvocation)).toEqual({ i1: 1, i2: 2 });
    expect(perController).toEqual({
      a: { 'invocation deadline passed': 2 },
      b: { 'command expired unread': 1 },
    });
  });

  it('B and C finish every task of A, SIGKILLed with 200 invocations in flight across 20 agents (one a rolling run): nothing lost, run twice or invented', async () => {
    cs.use('a');
    const ledger = new Ledger(w, 'controller A SIGKILL');
    // The side effect first, then 6 s: a host counts once its command started; five steps of 6 s
    // each, so A dies early in the run whatever the machine's speed (the wave below took up to
    // ~10 s to reach 50 executions: with steps of 2 s, CI saw 15 of the 20 hosts started when A died).
    const rolling = await ledger.send(HOSTS, {
      after: 'sleep 6',
      concurrency: ROLLING_CONCURRENCY,
      timeoutMs: 20_000,
      deliveryTimeoutMs: 40_000,
      killGraceMs: 1_000,
    });
    // Staggered: at the kill some commands run, some results wait in the queue or unacked in A.
    for (let i = 0; i < 9; i++)
      await ledger.send(HOSTS, {
        before: `sleep ${(0.3 + (i % 4) * 0.3).toFixed(1)}`,
        timeoutMs: 20_000,
        deliveryTimeoutMs: 40_000,
        killGraceMs: 1_000,
      });
    await until(() => ledger.executions().length >= 50, 60_000);
    const atKill = await ledger.snapshot();
    const rollingRunsAtKill = HOSTS.filter((h) => ledger.runsOf(rolling, h) > 0).length;

    await cs.get('a').proc.stop('SIGKILL');
    const killedAt = Date.now();
    cs.use('b');
    // The rolling run goes on from the store, on B or C, within a few seconds. A claimed at most
    // one step beyond the hosts started at the kill, so a host past that was sent by B or C.
    await until(
      () => HOSTS.filter((h) => ledger.runsOf(rolling, h) > 0).length > rollingRunsAtKill + ROLLING_CONCURRENCY,
      30_000,
    );
    const rollingResumedMs = Date.now() - killedAt;

    const counts = await ledger.settle(10_000);
    ledger.report(counts, { atKill, rollingRunsAtKill, rollingResumedMs });
    // A died with at least one step left beyond the one it may have claimed, which B or C sent.
    expect(rollingRunsAtKill).toBeLessThanOrEqual(HOSTS.length - 2 * ROLLING_CONCURRENCY);
    // A step of 6 s may have to end first, then B or C take the run over (~2.3 s measured).
    expect(rollingResumedMs).toBeLessThan(20_000);
    expect(counts).toMatchObject({ invocations: 200, unfinished: 0, duplicated: 0, unexpected: 0, inconsistent: 0 });
    // A rolling step A claimed but never published ends `undelivered` at its deadline: at most one step.
    const { succeeded = 0, undelivered = 0, ...others } = counts.byState;
    expect(others).toEqual({});
    expect(undelivered).toBeLessThanOrEqual(ROLLING_CONCURRENCY);
    expect(succeeded + undelivered).toBe(200);
    // Read through C as well: every controller answers for every task, with one result per host.
    for (const id of ledger.taskIds) {
      const res = await cs.api('c', 'GET', `/v1/tasks/${id}`);
      expect(res.body.state).toBe('completed');
      expect((res.body.results as { host: string }[]).map((r) => r.host).sort()).toEqual(HOSTS);
    }
  }, 240_000);

  it('three controllers sweeping the same deadlines apply each verdict once: one state in the store, one verdict line across their logs', async () => {
    // Back after the kill of the scenario before (still up if that one failed early).
    if (!cs.get('a').proc.alive) await cs.start('a');
    await cs.waitHosts('a', HOSTS.slice(10));
    cs.use('a');
    const down = HOSTS.slice(0, 5);
    const stalled = HOSTS.slice(5, 10);
    const logFrom = new Map(cs.live().map((c) => [c.name, c.proc.output.length]));
    const ledger = new Ledger(w, 'deadlines swept by three controllers');

    // Running when their agent dies (4 at once per agent): each ends `lost` after timeout + kill
    // grace + result grace, a verdict only the sweepers give.
    const running: string[] = [];
    for (let i = 0; i < 4; i++)
      running.push(
        await ledger.send(stalled, {
          before: `echo $$ >> ${orphanFile()}`,
          after: 'sleep 30',
          timeoutMs: 2_000,
          killGraceMs: 500,
        }),
      );
    await until(() => running.every((t) => stalled.every((h) => ledger.runsOf(t, h) === 1)), 20_000);
    await Promise.all(stalled.map((h) => w.agents.get(h)!.stop('SIGKILL')));
    // Never taken: each ends `undelivered` after its delivery timeout + grace.
    await Promise.all(down.map((h) => w.agents.get(h)!.stop('SIGKILL')));
    for (let i = 0; i < 10; i++) await ledger.send(down, { deliveryTimeoutMs: 2_000, timeoutMs: 5_000 });

    const counts = await ledger.settle(5_000, 2_000);
    const { perInvocation, perController } = verdictLines(
      cs.live().map((c) => ({ name: c.name, output: c.proc.output.slice(logFrom.get(c.name)) })),
    );
    ledger.report(counts, { verdictsPerController: perController });
    expect(counts).toEqual({
      invocations: 70,
      unfinished: 0,
      duplicated: 0,
      unexpected: 0,
      inconsistent: 0,
      byState: { lost: 20, undelivered: 50 },
    });
    // One verdict line per invocation, whichever controller applied it.
    const ids: string[] = [];
    for (const id of ledger.taskIds) {
      const task = (await w.api('GET', `/v1/tasks/${id}`)).body as { results: { invocationId: string }[] };
      ids.push(...task.results.map((r) => r.invocationId));
    }
    expect(ids).toHaveLength(70);
    expect(ids.map((id) => [id, perInvocation.get(id) ?? 0]).filter(([, n]) => n !== 1)).toEqual([]);
    expect([...perInvocation.keys()].sort()).toEqual([...ids].sort());
  }, 120_000);
});
