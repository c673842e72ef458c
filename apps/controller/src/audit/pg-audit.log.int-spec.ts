import { ManualClock } from '@warren/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migratedDatabase, type MigratedDatabase, unreachablePool } from '../../../../test/support/pg-schema';
import { isDatabaseUnavailable, type PgPool } from '../store/postgres/pg.database';
import { describeAuditLogContract } from './audit.log.contract';
import { PgAuditLog } from './pg-audit.log';

let pg: MigratedDatabase;
beforeAll(async () => {
  pg = await migratedDatabase('audit');
});
afterAll(async () => {
  await pg?.close();
});

/** Task `taskId` with one invocation per host in the state given (what the task store writes: see H2's PgTaskStore). */
async function seedTask(pool: PgPool, taskId: string, states: Record<string, string>): Promise<void> {
  const hosts = Object.keys(states);
  await pool.query(
    `INSERT INTO tasks (id, command, env, timeout_ms, delivery_timeout_ms, kill_grace_ms, state, created_at, host_count)
     VALUES ($1, 'uptime', '{}', 1000, 1000, 0, 'running', 1, $2)`,
    [taskId, hosts.length],
  );
  for (const host of hosts)
    await pool.query(`INSERT INTO invocations (id, task_id, host, state, updated_at) VALUES ($1, $2, $3, $4, 5)`, [
      `${taskId}:${host}`,
      taskId,
      host,
      states[host],
    ]);
}

describeAuditLogContract('PgAuditLog', async (clock, log) => {
  await pg.truncate('audit_log', 'invocations', 'tasks');
  // A pool of its own, which breakStorage() ends (the one of `pg` is ended once, by close()).
  const pool = pg.openPool();
  return {
    audit: new PgAuditLog(pool, clock, log),
    seedTask: (taskId, states) => seedTask(pg.pool, taskId, states),
    async breakStorage() {
      await pool.end(); // every later query rejects, as while the database is away
    },
  };
});

describe('PgAuditLog: two controllers on one database (two pools)', () => {
  it('lists through B what A and B recorded, newest first, with the outcome of a task created on either', async () => {
    await pg.truncate('audit_log', 'invocations', 'tasks');
    const clock = new ManualClock(1_000);
    const [a, b] = [new PgAuditLog(pg.pool, clock), new PgAuditLog(pg.openPool(), clock)];
    await seedTask(pg.pool, 't_1', { web1: 'running' });
    await a.record({ actor: 'alice', source: null, action: 'task.create', decision: 'allowed', taskId: 't_1' });
    await b.record({ actor: 'bob', source: null, action: 'task.cancel', decision: 'allowed', taskId: 't_1' });
    for (const log of [a, b])
      expect((await log.query({ limit: 10, taskId: 't_1' })).map((r) => [r.actor, r.outcome])).toEqual([
        ['bob', undefined],
        ['alice', { web1: 'running' }],
      ]);
  });

  it('a hundred records written at once through two pools: every one stored once, with distinct ids', async () => {
    await pg.truncate('audit_log');
    const clock = new ManualClock(1_000);
    const [a, b] = [new PgAuditLog(pg.pool, clock), new PgAuditLog(pg.openPool(), clock)];
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 ? a : b).record({ actor: `u${i}`, source: null, action: 'x', decision: 'allowed' }),
      ),
    );
    const all = await a.query({ limit: 1_000 });
    expect(new Set(all.map((r) => r.actor)).size).toBe(100);
    expect(new Set(all.map((r) => r.id)).size).toBe(100);
  });
});

describe('PgAuditLog while the database is down', () => {
  it('record resolves and logs the lost record at error level with the cause; query rejects saying the database is away', async () => {
    const away = unreachablePool();
    try {
      const errors: { err: unknown; action: string }[] = [];
      const log = { error: (o: { err: unknown; action: string }) => errors.push(o) };
      const audit = new PgAuditLog(away, new ManualClock(), log as never);
      await expect(
        audit.record({ actor: 'alice', source: null, action: 'task.create', decision: 'allowed' }),
      ).resolves.toBeUndefined();
      expect(errors).toHaveLength(1);
      expect(errors[0].action).toBe('task.create');
      expect(isDatabaseUnavailable(errors[0].err)).toBe(true);
      expect(isDatabaseUnavailable(await audit.query({ limit: 1 }).catch((e: unknown) => e))).toBe(true);
    } finally {
      await away.end();
    }
  });
});
