import { PROTOCOL_VERSION, type ResultMessage } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import { describe, expect, it } from 'vitest';
import { AggregatingAuditLog } from '../audit/aggregating-audit.log';
import type { AuditEvent, AuditLog } from '../audit/audit.port';
import { HostScope } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import { SqliteAuditLog } from '../audit/sqlite-audit.log';
import { TaskAudit } from './task-audit.service';

function auditOf() {
  const records: AuditEvent[] = [];
  const log = {
    record: async (e: AuditEvent) => void records.push(e),
    recordMany: async (es: readonly AuditEvent[]) => void records.push(...es),
    query: async () => [],
  } as AuditLog;
  const metrics = new MetricsService();
  return { audit: new TaskAudit(log, metrics), records, metrics };
}

const caller: Caller = {
  principal: { tokenId: 'id', name: 'ops', role: 'operator', hostPatterns: null, scope: new HostScope(null) },
  source: '10.0.0.1',
};
const spec = { command: 'deploy', cwd: '/srv', env: { TOKEN: 's3cret' }, runAs: null };

describe('TaskAudit', () => {
  it('keeps the hosts and exact command of a task, the names of its env variables but never their values', async () => {
    const { audit, records } = auditOf();
    await audit.created(caller, 't_1', spec, ['web1'], 1_000, {});
    await audit.createRefused(caller, spec, ['db1'], 'outside', { dryRun: true });
    expect(records).toEqual([
      {
        at: 1_000,
        actor: 'ops',
        source: '10.0.0.1',
        action: 'task.create',
        decision: 'allowed',
        taskId: 't_1',
        hosts: ['web1'],
        command: 'deploy',
        cwd: '/srv',
        envNames: ['TOKEN'],
        runAs: null,
      },
      {
        actor: 'ops',
        source: '10.0.0.1',
        action: 'task.create',
        decision: 'denied',
        reason: 'outside',
        hosts: ['db1'],
        command: 'deploy',
        cwd: '/srv',
        envNames: ['TOKEN'],
        runAs: null,
        detail: { dryRun: true },
      },
    ]);
    expect(JSON.stringify(records)).not.toContain('s3cret');
  });

  it('records cancels refused and done about the same subject', async () => {
    const { audit, records } = auditOf();
    const who = { principal: caller.principal, ip: '10.0.0.2' };
    const subject = { taskId: 't_1', command: 'deploy', hosts: ['web1'] };
    await audit.cancelRefused(who, subject, 'no');
    await audit.cancelled(who, subject, { killing: ['web1'] });
    const base = { actor: 'ops', source: '10.0.0.2', action: 'task.cancel', taskId: 't_1', command: 'deploy' };
    expect(records).toEqual([
      { ...base, hosts: ['web1'], decision: 'denied', reason: 'no' },
      { ...base, hosts: ['web1'], decision: 'allowed', detail: { killing: ['web1'] } },
    ]);
  });

  it("records an agent's refusal as the agent's and counts it by code", async () => {
    const { audit, records, metrics } = auditOf();
    const m = {
      v: PROTOCOL_VERSION,
      kind: 'result',
      invocationId: 'i1',
      taskId: 'unknown',
      host: 'web1',
      state: 'rejected',
      code: 'bad_signature',
      reason: 'bad signature',
    } as unknown as ResultMessage;
    await audit.agentRejected(m);
    expect(records).toEqual([
      {
        actor: 'agent:web1',
        source: 'broker',
        action: 'agent.rejected',
        decision: 'denied',
        reason: 'bad signature',
        taskId: null,
        hosts: ['web1'],
        invocationId: 'i1',
        detail: { code: 'bad_signature' },
        repeatKey: 'web1 bad_signature',
      },
    ]);
    expect(await metrics.registry.metrics()).toMatch(/warren_agent_rejections_total\{code="bad_signature"\} 1/);
  });

  it('writes 1,000 forged commands an agent refused as a handful of records whose counts sum to 1,000; a policy, replay or wrong-host refusal each', async () => {
    const clock = new ManualClock();
    const log = new AggregatingAuditLog(new SqliteAuditLog(openDatabase(':memory:'), clock), clock);
    const audit = new TaskAudit(log, new MetricsService());
    const refusal = (i: number, code: string) =>
      ({
        v: PROTOCOL_VERSION,
        kind: 'result',
        invocationId: `forged-${i}`,
        taskId: 'unknown',
        host: 'web1',
        state: 'rejected',
        code,
        reason: 'signed by an untrusted key (not a fingerprint)',
      }) as unknown as ResultMessage;
    for (let i = 0; i < 1000; i++) await audit.agentRejected(refusal(i, i % 2 ? 'untrusted_key' : 'unsigned'));
    for (const code of ['policy', 'policy', 'replay', 'replay', 'wrong_host'])
      await audit.agentRejected(refusal(1, code));
    clock.advance(60_000);
    const records = await log.query({ limit: 2000 });
    expect(records).toHaveLength(9);
    const forged = records.filter((r) => ['unsigned', 'untrusted_key'].includes(r.detail?.code as string));
    expect(forged.reduce((sum, r) => sum + r.count, 0)).toBe(1000);
    // Signed by this controller, about a real invocation: one record each.
    expect(records.filter((r) => !forged.includes(r)).map((r) => r.count)).toEqual([1, 1, 1, 1, 1]);
  });

  it('writes 1,000 copies of a command replayed from another namespace as a handful of records: they name no invocation of ours', async () => {
    const clock = new ManualClock();
    const log = new AggregatingAuditLog(new SqliteAuditLog(openDatabase(':memory:'), clock), clock);
    const audit = new TaskAudit(log, new MetricsService());
    const copy = {
      v: PROTOCOL_VERSION,
      kind: 'result',
      invocationId: 'inv-of-another-installation',
      taskId: 't_elsewhere',
      host: 'web1',
      state: 'rejected',
      code: 'wrong_namespace',
      reason: 'addressed to namespace prod, this agent serves staging',
    } as unknown as ResultMessage;
    for (let i = 0; i < 1000; i++) await audit.agentRejected(copy);
    clock.advance(60_000);
    const records = await log.query({ limit: 2000 });
    expect(records.length).toBeLessThanOrEqual(2);
    expect(records.reduce((sum, r) => sum + r.count, 0)).toBe(1000);
  });
});
