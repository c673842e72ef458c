import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { migratedSqlite } from '../../../../test/support/sqlite-schema';
import { openDatabase } from '../store/database';
import { migrateSqlite } from '../store/migrations/sqlite-migrator';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { describeAuditLogContract } from './audit.log.contract';
import { parseAuditQuery } from './audit.controller';
import { SqliteAuditLog } from './sqlite-audit.log';

describeAuditLogContract('SqliteAuditLog', async (clock, log) => {
  const db = migratedSqlite();
  const tasks = new SqliteTaskStore(db);
  return {
    audit: new SqliteAuditLog(db, clock, log),
    async seedTask(taskId, states) {
      const hosts = Object.keys(states);
      await tasks.createTask(
        {
          id: taskId,
          command: 'uptime',
          cwd: null,
          env: {},
          runAs: null,
          createdBy: 'alice',
          timeoutMs: 1000,
          deliveryTimeoutMs: 1000,
          killGraceMs: 0,
          state: 'running',
          createdAt: 1,
          finishedAt: null,
          hostCount: hosts.length,
        },
        hosts.map((host) => ({ id: `${taskId}:${host}`, host, deadlineAt: 10 })),
      );
      const verdicts = hosts.filter((h) => states[h] === 'undelivered');
      await tasks.applyUpdates(
        verdicts.map((h) => ({
          kind: 'verdict' as const,
          invocationId: `${taskId}:${h}`,
          state: 'undelivered' as const,
          reason: 'no agent',
          at: 5,
        })),
        5,
      );
    },
    async breakStorage() {
      db.close();
    },
  };
});

describe('SqliteAuditLog', () => {
  it('adds `count` to a file written before it: its records stood for one decision each', async () => {
    const db = openDatabase(':memory:', { migrate: false });
    db.exec(`CREATE TABLE audit_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, source TEXT,
      action TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT, task_id TEXT, hosts TEXT, command TEXT,
      cwd TEXT, env_names TEXT, run_as TEXT, invocation_id TEXT, detail TEXT)`);
    db.exec(`INSERT INTO audit_log (at, actor, action, decision) VALUES (1, 'anonymous', 'api.request', 'denied')`);
    migrateSqlite(db);
    const audit = new SqliteAuditLog(db, new ManualClock());
    await audit.record({ actor: 'anonymous', source: null, action: 'api.request', decision: 'denied', count: 979 });
    expect((await audit.query({ limit: 10 })).map((r) => r.count)).toEqual([979, 1]);
  });
});

describe('parseAuditQuery', () => {
  it('reads every filter and defaults the limit', () => {
    expect(parseAuditQuery({})).toEqual({ limit: 100 });
    expect(
      parseAuditQuery({
        limit: '5',
        taskId: 't_1',
        actor: 'a',
        action: 'task.create',
        decision: 'denied',
        since: '1970-01-01T00:00:01Z',
      }),
    ).toEqual({
      limit: 5,
      taskId: 't_1',
      actor: 'a',
      action: 'task.create',
      decision: 'denied',
      since: 1000,
    });
    expect(parseAuditQuery({ since: '1500' }).since).toBe(1500);
    expect(parseAuditQuery({ before: '42' }).before).toBe(42);
  });

  it.each([
    [{ limit: '0' }, /^limit/],
    [{ limit: '5000' }, /^limit/],
    [{ decision: 'maybe' }, /^decision/],
    [{ since: 'yesterday' }, /^since/],
    [{ before: '0' }, /^before/],
    [{ before: 't_1' }, /^before/],
    [{ actor: ['a', 'b'] }, /^actor/],
    [{ who: 'x' }, /unknown query parameter who/],
  ])('refuses %j naming the parameter', (q, re) => {
    expect(() => parseAuditQuery(q)).toThrow(re);
  });
});
