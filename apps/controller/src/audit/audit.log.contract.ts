import { type Clock, ManualClock } from '@warren/runtime';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditLog } from './audit.port';

/** What the contract needs of an adapter: the log, and ways to arrange its storage. */
export interface AuditHarness {
  audit: AuditLog;
  /** Stores task `taskId` with one invocation per host, each in the state given, in the log's database. */
  seedTask(taskId: string, states: Record<string, 'pending' | 'undelivered'>): Promise<void>;
  /** Makes every later write of the storage fail (database closed, pool ended). */
  breakStorage(): Promise<void>;
}

/**
 * The behaviour every {@link AuditLog} adapter shares. `open` gives a log over empty storage (a
 * fresh one for each test) stamping records with `clock` and logging to `log`.
 */
export function describeAuditLogContract(
  label: string,
  open: (clock: Clock, log?: Logger) => Promise<AuditHarness>,
): void {
  describe(`${label} (AuditLog contract)`, () => {
    it('returns records newest first, filtered, with each host outcome of a created task read from the task store', async () => {
      const { audit, seedTask } = await open(new ManualClock());
      await seedTask('t_1', { web1: 'pending', web2: 'undelivered' });
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
      expect(await audit.query({ limit: 10, taskId: 't_1', actor: 'bob' })).toHaveLength(0);
      expect(await audit.query({ limit: 10, since: 1_500 })).toHaveLength(1);
      expect(await audit.query({ limit: 10, since: 2_001 })).toHaveLength(0);
      expect(await audit.query({ limit: 1 })).toHaveLength(1);
    });

    it('pages with before: each page the next older records, none missed or repeated, filters kept', async () => {
      const { audit } = await open(new ManualClock());
      for (let i = 1; i <= 7; i++)
        await audit.record({
          at: i * 1_000,
          actor: i % 2 ? 'alice' : 'bob',
          source: null,
          action: `a.${i}`,
          decision: 'allowed',
        });
      const seen: string[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await audit.query({ limit: 3, ...(before ? { before } : {}) });
        if (page.length === 0) break;
        seen.push(...page.map((r) => r.action));
        before = page.at(-1)!.id;
      }
      expect(seen).toEqual(['a.7', 'a.6', 'a.5', 'a.4', 'a.3', 'a.2', 'a.1']);
      const [newest] = await audit.query({ limit: 1, actor: 'alice' });
      expect((await audit.query({ limit: 10, actor: 'alice', before: newest.id })).map((r) => r.action)).toEqual([
        'a.5',
        'a.3',
        'a.1',
      ]);
    });

    it('keeps every field as given, and fills the absent ones with null or empty lists', async () => {
      const { audit } = await open(new ManualClock());
      await audit.record({
        at: 5,
        actor: 'agent:web1',
        source: 'broker',
        action: 'agent.rejected',
        decision: 'denied',
        reason: 'bad signature',
        taskId: 't_9',
        hosts: ['web1'],
        command: 'rm -rf /tmp/x',
        cwd: '/tmp',
        envNames: ['A', 'B'],
        runAs: 'deploy',
        invocationId: 'i_9',
        detail: { code: 'bad_signature', n: 3 },
        count: 7,
        repeatKey: 'never stored',
      });
      await audit.record({ at: 6, actor: 'a', source: null, action: 'x', decision: 'allowed' });
      const [bare, full] = await audit.query({ limit: 10 });
      expect(full).toEqual({
        id: full.id,
        at: new Date(5).toISOString(),
        actor: 'agent:web1',
        source: 'broker',
        action: 'agent.rejected',
        decision: 'denied',
        reason: 'bad signature',
        taskId: 't_9',
        hosts: ['web1'],
        command: 'rm -rf /tmp/x',
        cwd: '/tmp',
        envNames: ['A', 'B'],
        runAs: 'deploy',
        invocationId: 'i_9',
        detail: { code: 'bad_signature', n: 3 },
        count: 7,
      });
      expect(bare).toMatchObject({ reason: null, taskId: null, hosts: [], envNames: [], detail: null, count: 1 });
      expect(bare.id).toBeGreaterThan(full.id);
    });

    it('shows the outcome of each created task on one page, and none on a denied creation or a task without invocations', async () => {
      const { audit, seedTask } = await open(new ManualClock());
      await seedTask('t_a', { db1: 'undelivered' });
      await seedTask('t_b', { web1: 'pending', web2: 'pending' });
      const created = { actor: 'alice', source: null, action: 'task.create', decision: 'allowed' } as const;
      await audit.record({ ...created, at: 1, taskId: 't_a' });
      await audit.record({ ...created, at: 2, taskId: 't_b' });
      await audit.record({ ...created, at: 3, taskId: 't_c', decision: 'denied', reason: 'role' });
      await audit.record({ ...created, at: 4, taskId: 't_unknown' });
      expect((await audit.query({ limit: 10 })).map((r) => [r.taskId, r.outcome])).toEqual([
        ['t_unknown', {}],
        ['t_c', undefined],
        ['t_b', { web1: 'pending', web2: 'pending' }],
        ['t_a', { db1: 'undelivered' }],
      ]);
    });

    it('never rejects into the caller: a record it cannot write is logged instead', async () => {
      const errors: unknown[] = [];
      const { audit, breakStorage } = await open(new ManualClock(), {
        error: (o: unknown) => errors.push(o),
      } as never);
      await breakStorage();
      await expect(
        audit.record({ actor: 'a', source: null, action: 'x', decision: 'allowed' }),
      ).resolves.toBeUndefined();
      expect(errors).toEqual([expect.objectContaining({ action: 'x', actor: 'a', decision: 'allowed' })]);
    });

    it('stamps a record given no time with its clock, and keeps a time it is given', async () => {
      const clock = new ManualClock(Date.UTC(2026, 0, 2, 3, 4, 5));
      const { audit } = await open(clock);
      await audit.record({ actor: 'a', source: null, action: 'x', decision: 'allowed' });
      clock.advance(1_000);
      await audit.record({ at: 7_000, actor: 'b', source: null, action: 'x', decision: 'allowed' });
      expect((await audit.query({ limit: 10 })).map((r) => [r.actor, r.at])).toEqual([
        ['b', new Date(7_000).toISOString()],
        ['a', '2026-01-02T03:04:05.000Z'],
      ]);
    });

    it('appends a batch in the order given, each stamped as one record would be', async () => {
      const clock = new ManualClock(5_000);
      const { audit } = await open(clock);
      await audit.recordMany([]);
      await audit.recordMany([
        { actor: 'a', source: 'broker', action: 'host.accept', decision: 'allowed', hosts: ['web1'] },
        { at: 7_000, actor: 'b', source: 'broker', action: 'host.key.seen', decision: 'denied', count: 3 },
        { actor: 'c', source: null, action: 'x', decision: 'allowed' },
      ]);
      expect((await audit.query({ limit: 10 })).map((r) => [r.actor, r.at, r.count, r.hosts])).toEqual([
        ['c', new Date(5_000).toISOString(), 1, []],
        ['b', new Date(7_000).toISOString(), 3, []],
        ['a', new Date(5_000).toISOString(), 1, ['web1']],
      ]);
    });

    it('never rejects into the caller with a batch either: each record it cannot write is logged', async () => {
      const errors: unknown[] = [];
      const { audit, breakStorage } = await open(new ManualClock(), {
        error: (o: unknown) => errors.push(o),
      } as never);
      await breakStorage();
      const batch = ['a', 'b'].map((actor) => ({ actor, source: null, action: 'x', decision: 'allowed' as const }));
      await expect(audit.recordMany(batch)).resolves.toBeUndefined();
      expect(errors).toEqual([expect.objectContaining({ actor: 'a' }), expect.objectContaining({ actor: 'b' })]);
    });
  });
}
