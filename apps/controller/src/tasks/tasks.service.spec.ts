import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../audit/audit.port';
import { HostScope } from '../auth/host-patterns';
import type { Caller, Principal } from '../auth/principal';
import type { Role } from '../auth/roles';
import type { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import {
  BadQueryError,
  BrokerUnavailableError,
  ForbiddenError,
  TaskNotFoundError,
  UnprocessableTaskError,
} from '../errors/errors';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import { SqliteTaskStore } from '../store/sqlite-task.store';
import { CompletionNotifier } from './completion.notifier';
import type { DispatcherService } from './dispatcher.service';
import { RollingScheduler } from './rolling.scheduler';
import { type KnownHost, resolveTarget, type TargetResolver } from './target.resolver';
import { TaskAudit } from './task-audit.service';
import { TaskChanges } from './task-changes';
import { TaskLauncher } from './task.launcher';
import { TaskReader } from './task-reader.service';
import { TasksService } from './tasks.service';

function caller(name: string, role: Role = 'operator', hostPatterns: string[] | null = null): Caller {
  const principal: Principal = { tokenId: `id-${name}`, name, role, hostPatterns, scope: new HostScope(hostPatterns) };
  return { principal, source: '10.1.2.3' };
}
const admin = caller('root', 'admin');

/** What presence knows in these tests: six web hosts in two zones, one offline, one db host without an accepted key. */
const KNOWN: KnownHost[] = [
  ...[1, 2, 3, 4, 5].map((n) => ({
    host: `web${n}`,
    status: 'online' as const,
    labels: { role: 'web', zone: n <= 3 ? 'eu' : 'us' },
    trusted: true,
  })),
  { host: 'web6', status: 'offline', labels: { role: 'web', zone: 'eu' }, trusted: true },
  { host: 'db1', status: 'online', labels: { role: 'db', zone: 'eu' }, trusted: false },
];

/** The time the tests run at. */
const clock = new ManualClock();

function service(connected: boolean) {
  const store = new SqliteTaskStore(openDatabase(':memory:'));
  const dispatched: string[] = [];
  /** hosts of every dispatch, in order */
  const sent: string[][] = [];
  const audited: AuditEvent[] = [];
  const dispatcher = {
    dispatch: async (task: { id: string }, invocations: { host: string }[]) => {
      dispatched.push(task.id);
      sent.push(invocations.map((i) => i.host));
    },
  } as unknown as DispatcherService;
  const broker = { connected } as BrokerService;
  const config = Object.assign(new ControllerConfig(), { deliveryGraceMs: 1000, resultGraceMs: 1000 });
  const audit = { record: async (e: AuditEvent) => void audited.push(e), query: async () => [] };
  const logger = pino({ level: 'silent' });
  const notifier = new CompletionNotifier();
  const targets = { resolve: async (sel) => resolveTarget(sel, KNOWN) } as TargetResolver;
  const rolling = new RollingScheduler(
    store,
    dispatcher,
    broker,
    config,
    new TaskChanges(new TaskActivityNotifier(), notifier),
    logger,
    clock,
  );
  const reader = new TaskReader(store, notifier, audit);
  const taskAudit = new TaskAudit(audit, new MetricsService());
  const launcher = new TaskLauncher(store, dispatcher, rolling, config, taskAudit, logger, clock);
  const svc = new TasksService(store, broker, targets, reader, taskAudit, launcher);
  return { svc, reader, store, dispatched, sent, audited, rolling };
}

/** Ends an invocation of `taskId` on `host` as the agent would report it. */
async function finish(store: SqliteTaskStore, taskId: string, host: string, state: 'succeeded' | 'failed') {
  const inv = (await store.getInvocations(taskId)).find((r) => r.host === host)!;
  const out = { data: '', bytes: 0, truncated: false };
  await store.applyUpdates(
    [
      {
        kind: 'result',
        invocationId: inv.id,
        host,
        state,
        exitCode: state === 'succeeded' ? 0 : 1,
        signal: null,
        stdout: out,
        stderr: out,
        startedAt: 1,
        finishedAt: 2,
        durationMs: 1,
        reason: null,
      },
    ],
    clock.now(),
  );
}

describe('TasksService', () => {
  it('refuses a task while the broker is unreachable, storing and sending nothing', async () => {
    const { svc, store, dispatched } = service(false);
    await expect(svc.create({ command: 'true', hosts: ['a'] }, admin)).rejects.toBeInstanceOf(BrokerUnavailableError);
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('stores one pending row per distinct host before dispatching, with the documented defaults', async () => {
    const { svc, store, dispatched } = service(true);
    const created = await svc.create({ command: 'true', hosts: ['b', 'a', 'b'] }, admin);
    expect(created.hosts).toEqual(['b', 'a']);
    expect(dispatched).toEqual([created.id]);
    expect(await store.getTask(created.id)).toMatchObject({
      timeoutMs: 60_000,
      deliveryTimeoutMs: 60_000,
      killGraceMs: 5_000,
      hostCount: 2,
    });
    expect((await store.getInvocations(created.id)).map((r) => [r.host, r.state])).toEqual([
      ['a', 'pending'],
      ['b', 'pending'],
    ]);
  });

  it('says which task it does not know', async () => {
    const { reader } = service(true);
    await expect(reader.get('t_nope', admin)).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('keeps who created the task and the run-as user, and audits the exact command with env names but not values', async () => {
    const { svc, store, audited } = service(true);
    const created = await svc.create(
      { command: 'echo "$X" | tee /tmp/y', hosts: ['web1'], env: { X: 's3cret' }, cwd: '/srv', runAs: 'deploy' },
      caller('alice'),
    );
    expect(await store.getTask(created.id)).toMatchObject({ createdBy: 'alice', runAs: 'deploy' });
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'alice',
        source: '10.1.2.3',
        action: 'task.create',
        decision: 'allowed',
        taskId: created.id,
        hosts: ['web1'],
        command: 'echo "$X" | tee /tmp/y',
        cwd: '/srv',
        envNames: ['X'],
        runAs: 'deploy',
      }),
    ]);
    expect(JSON.stringify(audited)).not.toContain('s3cret');
  });

  it('refuses hosts outside the token patterns with 403 naming them, storing, sending nothing and auditing the denial', async () => {
    const { svc, store, dispatched, audited } = service(true);
    const web = caller('webops', 'operator', ['web*', 'lb[1-2]']);
    const err = await svc.create({ command: 'reboot', hosts: ['web1', 'db1', 'lb3'] }, web).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.message).toMatch(/db1, lb3/);
    expect(err.message).not.toMatch(/web1,/);
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'webops',
        action: 'task.create',
        decision: 'denied',
        command: 'reboot',
        hosts: ['web1', 'db1', 'lb3'],
      }),
    ]);
    expect(audited[0].reason).toMatch(/db1, lb3/);
    await expect(svc.create({ command: 'uptime', hosts: ['web1', 'lb2'] }, web)).resolves.toMatchObject({
      hosts: ['web1', 'lb2'],
    });
  });

  it('shows a host-limited token only the tasks whose every host is within its patterns', async () => {
    const { svc, reader, audited } = service(true);
    const webTask = await svc.create({ command: 'a', hosts: ['web1', 'web2'] }, admin);
    const mixed = await svc.create({ command: 'b', hosts: ['web1', 'db1'] }, admin);
    const web = caller('webview', 'viewer', ['web*']);
    expect((await reader.list(20, web)).tasks.map((t) => t.id)).toEqual([webTask.id]);
    // Both may be created in the same ms (then listed by id): compare as a set.
    expect((await reader.list(20, admin)).tasks.map((t) => t.id).sort()).toEqual([mixed.id, webTask.id].sort());
    await expect(reader.get(webTask.id, web)).resolves.toMatchObject({ id: webTask.id });
    const err = await reader.get(mixed.id, web).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    expect(err.message).toMatch(/db1/);
    expect(audited.at(-1)).toMatchObject({
      actor: 'webview',
      action: 'task.read',
      decision: 'denied',
      taskId: mixed.id,
      hosts: ['db1'],
    });
  });

  it('resolves globs and labels among online hosts with accepted keys, and says which matching hosts it left out', async () => {
    const { svc, store, dispatched, audited } = service(true);
    const preview = await svc.dryRun({ command: 'uptime', hosts: ['web*'], labels: ['zone=eu'] }, admin);
    expect(preview).toMatchObject({
      dryRun: true,
      hosts: ['web1', 'web2', 'web3'],
      count: 3,
      folded: 'web[1-3]',
      excluded: [{ host: 'web6', reason: 'offline' }],
    });
    expect((await svc.dryRun({ command: 'x', all: true }, admin)).excluded).toEqual([
      { host: 'db1', reason: 'key not accepted' },
      { host: 'web6', reason: 'offline' },
    ]);
    expect((await svc.dryRun({ command: 'x', labels: { role: 'web', zone: 'us' } }, admin)).hosts).toEqual([
      'web4',
      'web5',
    ]);
    // A dry run stores, sends and audits nothing.
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
    expect(audited).toEqual([]);
  });

  it('refuses a target that matches nothing with 422, storing and sending nothing', async () => {
    const { svc, store, dispatched } = service(true);
    const err = await svc.create({ command: 'uptime', hosts: ['cache*'] }, admin).catch((e) => e);
    expect(err).toBeInstanceOf(UnprocessableTaskError);
    expect(err.message).toMatch(/no host matches the target \(hosts cache\*\)/);
    const offline = await svc
      .create({ command: 'uptime', labels: { zone: 'eu' }, hosts: ['web6*'] }, admin)
      .catch((e) => e);
    expect(offline.message).toMatch(/1 matching known host is offline: web6/);
    await expect(svc.dryRun({ command: 'x', labels: ['role=mail'] }, admin)).rejects.toThrow(UnprocessableTaskError);
    expect(await store.listTasks(10)).toEqual([]);
    expect(dispatched).toEqual([]);
  });

  it('refuses a selector it cannot read, or none at all, with 400', async () => {
    const { svc } = service(true);
    await expect(svc.create({ command: 'x' }, admin)).rejects.toThrow(/give hosts .*labels, or all/);
    await expect(svc.create({ command: 'x', all: true, hosts: ['web1'] }, admin)).rejects.toBeInstanceOf(BadQueryError);
    await expect(svc.create({ command: 'x', hosts: ['web[3-1]'] }, admin)).rejects.toThrow(
      /hosts: host pattern "web\[3-1\]": range 3-1 runs backwards/,
    );
    await expect(svc.create({ command: 'x', hosts: ['web*'], maxErrors: 1 }, admin)).rejects.toThrow(
      /maxErrors needs concurrency/,
    );
  });

  it('checks the token patterns against the resolved hosts, in a dry run too (audited as such)', async () => {
    const { svc, audited } = service(true);
    const web = caller('eu-ops', 'operator', ['web[1-3]']);
    expect((await svc.dryRun({ command: 'x', labels: { zone: 'eu' }, hosts: ['web*'] }, web)).hosts).toEqual([
      'web1',
      'web2',
      'web3',
    ]);
    await expect(svc.dryRun({ command: 'x', hosts: ['web*'] }, web)).rejects.toThrow(ForbiddenError);
    expect(audited).toEqual([
      expect.objectContaining({
        actor: 'eu-ops',
        decision: 'denied',
        hosts: ['web1', 'web2', 'web3', 'web4', 'web5'],
        detail: { dryRun: true },
      }),
    ]);
  });

  it('sends a rolling task a few hosts at a time, the next as each one finishes', async () => {
    const { svc, store, sent, rolling } = service(true);
    const created = await svc.create({ command: 'x', hosts: ['web[1-5]'], concurrency: '40%' }, admin);
    expect(created).toMatchObject({ concurrency: 2, maxErrors: null });
    expect(sent).toEqual([['web1', 'web2']]);
    const unsent = (await store.getInvocations(created.id)).filter((r) => r.sentAt === null).map((r) => r.host);
    expect(unsent).toEqual(['web3', 'web4', 'web5']);
    expect((await store.findOverdue(clock.now() + 10 * 60_000, 10)).map((o) => o.host)).toEqual(['web1', 'web2']); // no deadline before it is sent
    await finish(store, created.id, 'web1', 'succeeded');
    await rolling.advance(created.id);
    expect(sent).toEqual([['web1', 'web2'], ['web3']]);
  });

  it('re-runs the hosts of a task in the states asked for as a new task that records where it came from', async () => {
    const { svc, store, sent } = service(true);
    const first = await svc.create(
      { command: 'deploy', hosts: ['web1', 'web2', 'web3'], env: { V: '2' }, timeoutMs: 9_000 },
      admin,
    );
    await finish(store, first.id, 'web1', 'succeeded');
    await finish(store, first.id, 'web2', 'failed');
    const again = await svc.rerun(first.id, { only: ['failed'] }, admin);
    expect(again).toMatchObject({ hosts: ['web2'], rerunOf: first.id });
    expect(await store.getTask(again.id)).toMatchObject({
      command: 'deploy',
      env: { V: '2' },
      timeoutMs: 9_000,
      rerunOf: first.id,
    });
    expect(sent.at(-1)).toEqual(['web2']);
    // Default: every host that did not succeed, finished ones only (web3 is still pending).
    await expect(svc.rerun(first.id, {}, admin)).resolves.toMatchObject({ hosts: ['web2'] });
    await expect(svc.rerun(first.id, { only: ['timed_out'] }, admin)).rejects.toThrow(
      /no host of task t_\w+ is in timed_out \(its hosts now: .*1 failed/,
    );
    await expect(svc.rerun('t_nope', {}, admin)).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(
      svc.rerun(first.id, { only: ['failed'] }, caller('dbops', 'operator', ['db*'])),
    ).rejects.toBeInstanceOf(ForbiddenError);
  });
});
