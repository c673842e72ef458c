import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import type { AuditEvent } from '../audit/audit.port';
import { HostScope } from '../auth/host-patterns';
import type { Caller, Principal } from '../auth/principal';
import type { Role } from '../auth/roles';
import type { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { TaskActivityNotifier } from '../events/task-activity.notifier';
import { MetricsService } from '../metrics/metrics.service';
import { openDatabase } from '../store/database';
import { SqliteFileStore } from '../store/sqlite-file.store';
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

/** A caller with token `name`, `role` and host patterns (null: every host), calling from 10.1.2.3. */
export function caller(name: string, role: Role = 'operator', hostPatterns: string[] | null = null): Caller {
  const principal: Principal = { tokenId: `id-${name}`, name, role, hostPatterns, scope: new HostScope(hostPatterns) };
  return { principal, source: '10.1.2.3' };
}
/** an admin token, for every host */
export const admin = caller('root', 'admin');

/** What presence knows in these tests: six web hosts in two zones, one offline, one db host without an accepted key. */
export const KNOWN: KnownHost[] = [
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
export const clock = new ManualClock();

/**
 * A TasksService over an in-memory store and the {@link KNOWN} hosts, with a broker `connected` or
 * not; records what it dispatches (task ids, and each dispatch's hosts), audits, and resolves.
 */
export function service(connected: boolean) {
  const db = openDatabase(':memory:');
  const store = new SqliteTaskStore(db);
  const files = new SqliteFileStore(db);
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
  const config = Object.assign(new ControllerConfig(), {
    deliveryGraceMs: 1000,
    resultGraceMs: 1000,
    maxFileBytes: 1024 * 1024,
  });
  const audit = {
    record: async (e: AuditEvent) => void audited.push(e),
    recordMany: async (es: readonly AuditEvent[]) => void audited.push(...es),
    query: async () => [],
  };
  const logger = pino({ level: 'silent' });
  const notifier = new CompletionNotifier();
  /** selectors the resolver was asked to match against presence, in order */
  const resolved: unknown[] = [];
  const targets = {
    resolve: async (sel, visible = () => true) => {
      resolved.push(sel);
      return resolveTarget(
        sel,
        KNOWN.filter((k) => visible(k.host)),
      );
    },
  } as TargetResolver;
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
  const svc = new TasksService(store, broker, targets, reader, taskAudit, launcher, files, config);
  return { svc, reader, store, files, dispatched, sent, audited, rolling, resolved };
}

/** Ends an invocation of `taskId` on `host` as the agent would report it. */
export async function finish(store: SqliteTaskStore, taskId: string, host: string, state: 'succeeded' | 'failed') {
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
