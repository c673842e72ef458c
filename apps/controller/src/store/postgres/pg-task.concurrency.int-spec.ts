import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../../test/support/postgres';
import { MIGRATIONS } from '../migrations';
import { result, started, task } from '../task-store.contract.fixtures';
import type { AppliedChange, InvocationUpdate } from '../task-store.port';
import { openPostgres, type PgPool } from './pg.database';
import { PgTaskStore } from './pg-task.store';

/** One controller: its own pool on the shared database, and what its store told `onApplied`. */
interface Controller {
  store: PgTaskStore;
  heard: AppliedChange[];
}

const REASONS = { pending: 'no agent took it', running: 'no result' };

let db: TestDatabase;
let admin: PgPool;
let controllers: Controller[];

beforeAll(async () => {
  db = await freshDatabase('pg_task_concurrency');
  admin = openPostgres(db.url, { max: 1 });
  for (const m of MIGRATIONS.postgres) await admin.query(m.sql);
  // Test instrumentation: one row per UPDATE that leaves an invocation with a verdict, so that a
  // verdict written twice (even the same one) shows, which the final state alone would not.
  await admin.query(`
    CREATE TABLE verdict_log (invocation_id TEXT NOT NULL, state TEXT NOT NULL);
    CREATE FUNCTION log_verdict() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO verdict_log VALUES (NEW.id, NEW.state); RETURN NEW; END $$;
    CREATE TRIGGER log_verdict AFTER UPDATE ON invocations FOR EACH ROW
      WHEN (NEW.state IN ('undelivered', 'lost')) EXECUTE FUNCTION log_verdict();`);
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

beforeEach(async () => {
  await admin.query('TRUNCATE tasks, invocations, verdict_log RESTART IDENTITY');
  controllers = [0, 1, 2].map(() => {
    const heard: AppliedChange[] = [];
    return { store: new PgTaskStore(openPostgres(db.url, { max: 3 }), (c) => heard.push(...c)), heard };
  });
  // Every pool connected before the race, so that no call starts late for want of a connection.
  await Promise.all(controllers.map((c) => Promise.all([c.store.activity(), c.store.activity(), c.store.activity()])));
});
afterEach(async () => {
  await Promise.all(controllers.map((c) => c.store.close()));
});

/** Deadlocks PostgreSQL detected in the test database so far (inTransaction retries them silently). */
async function deadlocks(): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`,
  );
  return rows[0].n;
}

/**
 * Deadlocks detected since `before`, once every controller's backends have reported: a backend
 * sends its statistics when it ends, so the pools are ended first.
 */
async function deadlocksOnceReported(before: number): Promise<number> {
  await Promise.all(controllers.map((c) => c.store.close()));
  await new Promise((r) => setTimeout(r, 1_000));
  return (await deadlocks()) - before;
}

describe('PgTaskStore: several controllers on one database', () => {
  it('completes a task exactly once when two controllers store its last two results at the same moment (100 times)', async () => {
    const [a, b] = controllers;
    const completions: string[][] = [];
    for (let n = 0; n < 100; n++) {
      await a.store.createTask(task(`t${n}`), [
        { id: `t${n}a`, host: 'a', deadlineAt: 7_000 },
        { id: `t${n}b`, host: 'b', deadlineAt: 7_000 },
      ]);
      const outs = await Promise.all([
        a.store.applyUpdates([result(`t${n}a`, 'a', 'succeeded')], 4_000),
        b.store.applyUpdates([result(`t${n}b`, 'b', 'failed')], 4_000),
      ]);
      completions.push(outs.flatMap((o) => o.completedTaskIds));
    }
    expect(completions).toEqual(Array.from({ length: 100 }, (_, n) => [`t${n}`]));
    const { rows } = await admin.query(`SELECT id FROM tasks WHERE state <> 'completed' OR finished_at <> 4000`);
    expect(rows).toEqual([]);
  });

  it('stores a result consumed by two controllers at once once: one change, one onApplied (100 times)', async () => {
    const [a, b] = controllers;
    for (let n = 0; n < 100; n++)
      await a.store.createTask(task(`t${n}`, 1_000, { hostCount: 1 }), [{ id: `i${n}`, host: 'a', deadlineAt: 7_000 }]);
    const applied: number[] = [];
    for (let n = 0; n < 100; n++) {
      const copy = result(`i${n}`, 'a', 'succeeded', `run ${n}`);
      const outs = await Promise.all([a.store.applyUpdates([copy], 4_000), b.store.applyUpdates([copy], 4_001)]);
      applied.push(outs[0].applied + outs[1].applied);
      expect(outs.flatMap((o) => o.completedTaskIds)).toEqual([`t${n}`]);
    }
    expect(applied).toEqual(Array(100).fill(1));
    expect(a.heard.length + b.heard.length).toBe(100);
    const { rows } = await admin.query(`SELECT COUNT(*)::int AS n FROM invocations WHERE state = 'succeeded'`);
    expect(rows[0].n).toBe(100);
  });

  it('gives each of 3,000 overdue invocations one verdict with three controllers sweeping at once', async () => {
    // 300 tasks of 10 hosts, even ones started (running), odd ones pending; each task's deadlines
    // are together (13,000 + 10 t + k, the running ones' from their result grace), and batches of
    // 25 cut tasks in two, so two sweepers claim parts of one task at the same moment.
    const TASKS = 300;
    const HOSTS = 10;
    for (let t = 0; t < TASKS; t++)
      await controllers[t % 3].store.createTask(
        task(`t${t}`, 1_000, { hostCount: HOSTS }),
        Array.from({ length: HOSTS }, (_, k) => ({
          id: `t${t}-${k}`,
          host: `h${k}`,
          deadlineAt: 13_000 + t * HOSTS + k,
        })),
      );
    const starts: InvocationUpdate[] = [];
    for (let t = 0; t < TASKS; t++)
      for (let k = 0; k < HOSTS; k += 2) starts.push(started(`t${t}-${k}`, `h${k}`, t * HOSTS + k));
    expect((await controllers[0].store.applyUpdates(starts, 2_000)).applied).toBe(1_500);
    const before = await deadlocks();

    const NOW = 100_000;
    const sweep = async (c: Controller) => {
      const swept: string[] = [];
      const completed: string[] = [];
      for (;;) {
        const out = await c.store.sweepOverdue(NOW, 25, REASONS);
        swept.push(...out.swept.map((o) => o.invocationId));
        completed.push(...out.completedTaskIds);
        if (out.swept.length === 0 && (await c.store.findOverdue(NOW, 1)).length === 0) return { swept, completed };
      }
    };
    const outs = await Promise.all(controllers.map(sweep));

    const swept = outs.flatMap((o) => o.swept);
    expect(swept).toHaveLength(TASKS * HOSTS);
    expect(new Set(swept).size).toBe(TASKS * HOSTS);
    // Each sweeper did part of the work (the batches were shared, not all taken by the first).
    for (const o of outs) expect(o.swept.length).toBeGreaterThan(0);
    const completed = outs.flatMap((o) => o.completed);
    expect(completed.sort()).toEqual(Array.from({ length: TASKS }, (_, t) => `t${t}`).sort());
    const heard = controllers.flatMap((c) => c.heard.filter((h) => h.kind === 'verdict').map((h) => h.invocationId));
    expect(heard.sort()).toEqual([...swept].sort());

    const { rows: log } = await admin.query<{ n: number; distinct: number }>(
      `SELECT COUNT(*)::int AS n, COUNT(DISTINCT invocation_id)::int AS distinct FROM verdict_log`,
    );
    expect(log[0]).toEqual({ n: TASKS * HOSTS, distinct: TASKS * HOSTS });
    const { rows: states } = await admin.query<{ state: string; reason: string; n: number }>(
      `SELECT state, reason, COUNT(*)::int AS n FROM invocations GROUP BY state, reason ORDER BY state`,
    );
    expect(states).toEqual([
      { state: 'lost', reason: 'no result', n: 1_500 },
      { state: 'undelivered', reason: 'no agent took it', n: 1_500 },
    ]);
    const { rows: tasks } = await admin.query(`SELECT id FROM tasks WHERE state <> 'completed'`);
    expect(tasks).toEqual([]);
    expect(await deadlocksOnceReported(before)).toBe(0);
  });

  it('ends every task once, with no deadlock, while controllers store overlapping batches, cancel and sweep at once', async () => {
    // 40 tasks of 15 hosts; each controller stores results in batches that span many tasks, in
    // its own order, while one cancels tasks and another sweeps the pending ones it finds overdue.
    const TASKS = 40;
    const HOSTS = 15;
    for (let t = 0; t < TASKS; t++)
      await controllers[0].store.createTask(
        task(`t${t}`, 1_000, { hostCount: HOSTS }),
        Array.from({ length: HOSTS }, (_, k) => ({ id: `t${t}-${k}`, host: `h${k}`, deadlineAt: 5_000 + k })),
      );
    const before = await deadlocks();
    const all = Array.from({ length: TASKS * HOSTS }, (_, n) => ({ t: n % TASKS, k: Math.floor(n / TASKS) }));
    const shuffled = (seed: number) =>
      [...all].sort((x, y) => ((x.t * 31 + x.k * 17 + seed) % 97) - ((y.t * 31 + y.k * 17 + seed) % 97));
    const store = async (c: Controller, seed: number) => {
      const done: string[] = [];
      const order = shuffled(seed);
      for (let i = 0; i < order.length; i += 25) {
        const batch = order.slice(i, i + 25).map(({ t, k }) => result(`t${t}-${k}`, `h${k}`, 'succeeded'));
        done.push(...(await c.store.applyUpdates(batch, 6_000)).completedTaskIds);
      }
      return done;
    };
    const cancel = async (c: Controller) => {
      const done: string[] = [];
      for (let t = 0; t < TASKS; t += 3)
        if ((await c.store.requestCancel(`t${t}`, null, 'stop', 6_000)).completed) done.push(`t${t}`);
      return done;
    };
    const sweep = async (c: Controller) => {
      const done: string[] = [];
      for (let n = 0; n < 20; n++) done.push(...(await c.store.sweepOverdue(5_010, 50, REASONS)).completedTaskIds);
      return done;
    };
    const [a, b, c] = controllers;
    const outs = await Promise.all([store(a, 1), store(b, 2), store(c, 3), cancel(b), sweep(c)]);
    const completed = outs.flat();
    expect(completed.sort()).toEqual(Array.from({ length: TASKS }, (_, t) => `t${t}`).sort());
    const { rows } = await admin.query(`SELECT id FROM tasks WHERE state NOT IN ('completed', 'cancelled')`);
    expect(rows).toEqual([]);
    const { rows: active } = await admin.query(`SELECT id FROM invocations WHERE state IN ('pending', 'running')`);
    expect(active).toEqual([]);
    expect(await deadlocksOnceReported(before)).toBe(0);
  });
  it('never sends a rolling host twice nor more than its concurrency while three controllers step it at once', async () => {
    // What each controller's rolling scheduler does for the task it resumes: send up to the
    // concurrency minus what is in flight, and finish what it sent.
    const HOSTS = 60;
    const CONCURRENCY = 4;
    await controllers[0].store.createTask(
      task('r1', 1_000, { hostCount: HOSTS, concurrency: CONCURRENCY }),
      Array.from({ length: HOSTS }, (_, k) => ({ id: `r1-${k}`, host: `h${k}`, deadlineAt: null })),
    );
    const inFlight: number[] = [];
    const step = async (c: Controller) => {
      const sent: string[] = [];
      for (;;) {
        const out = await c.store.advanceRolling(
          'r1',
          (p) => (inFlight.push(p.inFlight), { send: Math.max(0, (p.concurrency ?? HOSTS) - p.inFlight) }),
          90_000,
          2_000,
        );
        sent.push(...out.claimed.map((x) => x.id));
        if (out.claimed.length > 0) {
          const now = await admin.query<{ n: number }>(
            `SELECT COUNT(*)::int AS n FROM invocations WHERE task_id = 'r1' AND sent_at IS NOT NULL AND state = 'pending'`,
          );
          inFlight.push(now.rows[0].n);
          await c.store.applyUpdates(
            out.claimed.map((x) => result(x.id, x.host, 'succeeded')),
            3_000,
          );
        }
        if ((await c.store.rollingTaskIds()).length === 0) return sent;
      }
    };
    const sent = (await Promise.all(controllers.map(step))).flat();
    expect(sent).toHaveLength(HOSTS);
    expect(new Set(sent).size).toBe(HOSTS);
    expect(Math.max(...inFlight)).toBeLessThanOrEqual(CONCURRENCY);
    expect(await controllers[0].store.getTask('r1')).toMatchObject({ state: 'completed' });
  });
});
