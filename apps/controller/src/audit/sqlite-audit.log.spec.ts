import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../store/database';
import { migrateSqlite } from '../store/migrations/sqlite-migrator';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { parseAuditQuery } from './audit.controller';
import { SqliteAuditLog } from './sqlite-audit.log';

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

  it('returns records newest first, filtered, with each host outcome of a created task read from the task store', async () => {
    const db = openDatabase(':memory:');
    const store = new SqliteTaskStore(db);
    const audit = new SqliteAuditLog(db, new ManualClock());
    await store.createTask(
      {
        id: 't_1',
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
        hostCount: 2,
      },
      [
        { id: 'i1', host: 'web1', deadlineAt: 10 },
        { id: 'i2', host: 'web2', deadlineAt: 10 },
      ],
    );
    await store.applyUpdates(
      [{ kind: 'verdict', invocationId: 'i2', state: 'undelivered', reason: 'no agent', at: 5 }],
      5,
    );
    await audit.record({
      at: 1_000,
      actor: 'anonymous',
      source: '10.0.0.9',
      action: 'api.request',
      decision: 'denied',
      reason: 'no token',
    });
    await audit.record({
      at: 2_000,
      actor: 'alice',
      source: '10.0.0.1',
      action: 'task.create',
      decision: 'allowed',
      taskId: 't_1',
      hosts: ['web1', 'web2'],
      command: 'uptime',
      envNames: ['A'],
    });

    const all = await audit.query({ limit: 10 });
    expect(all.map((r) => r.action)).toEqual(['task.create', 'api.request']);
    expect(all[0]).toMatchObject({
      at: new Date(2_000).toISOString(),
      actor: 'alice',
      hosts: ['web1', 'web2'],
      envNames: ['A'],
      outcome: { web1: 'pending', web2: 'undelivered' },
    });
    expect(all[1].outcome).toBeUndefined();
    expect((await audit.query({ limit: 10, decision: 'denied' })).map((r) => r.actor)).toEqual(['anonymous']);
    expect(await audit.query({ limit: 10, taskId: 't_1', actor: 'alice', action: 'task.create' })).toHaveLength(1);
    expect(await audit.query({ limit: 10, since: 1_500 })).toHaveLength(1);
    expect(await audit.query({ limit: 1 })).toHaveLength(1);
  });

  it('never rejects into the caller: a record it cannot write is logged instead', async () => {
    const db = openDatabase(':memory:');
    const errors: unknown[] = [];
    const audit = new SqliteAuditLog(db, new ManualClock(), { error: (o: unknown) => errors.push(o) } as never);
    db.close();
    await expect(audit.record({ actor: 'a', source: null, action: 'x', decision: 'allowed' })).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });

  it('stamps a record given no time with its clock, and keeps a time it is given', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
    const audit = new SqliteAuditLog(openDatabase(':memory:'), clock);
    await audit.record({ actor: 'a', source: null, action: 'x', decision: 'allowed' });
    clock.advance(1_000);
    await audit.record({ at: 7_000, actor: 'b', source: null, action: 'x', decision: 'allowed' });
    expect((await audit.query({ limit: 10 })).map((r) => [r.actor, r.at])).toEqual([
      ['b', new Date(7_000).toISOString()],
      ['a', '2026-01-02T03:04:05.000Z'],
    ]);
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
  });

  it.each([
    [{ limit: '0' }, /^limit/],
    [{ limit: '5000' }, /^limit/],
    [{ decision: 'maybe' }, /^decision/],
    [{ since: 'yesterday' }, /^since/],
    [{ actor: ['a', 'b'] }, /^actor/],
    [{ who: 'x' }, /unknown query parameter who/],
  ])('refuses %j naming the parameter', (q, re) => {
    expect(() => parseAuditQuery(q)).toThrow(re);
  });
});
