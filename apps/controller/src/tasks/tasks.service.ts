import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import { ROOT_LOGGER } from '@warren/runtime';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import { nameHosts } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { foldHosts, type LimitSpec, naturalCompare, normalizeLabels, resolveLimit } from '@warren/api';
import {
  BadQueryError,
  BrokerUnavailableError,
  ForbiddenError,
  TaskNotFoundError,
  UnprocessableTaskError,
} from '../errors/errors';
import { TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import { DispatcherService } from './dispatcher.service';
import { type CreateTaskDto, TASK_DEFAULTS } from './dto/create-task.dto';
import { DEFAULT_RERUN_STATES, type RerunTaskDto } from './dto/rerun-task.dto';
import { RollingScheduler } from './rolling.scheduler';
import { type ResolvedTarget, TargetResolver } from './target.resolver';
import { TaskReader } from './task-reader.service';

/** A short, typeable, URL-safe task id: `t_` + 12 base32 characters (60 random bits). */
export function newTaskId(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  let id = 't_';
  for (const b of bytes) id += alphabet[b & 31];
  return id;
}

/** What the audit log keeps of a task: its hosts and exact command, env names but never values. */
function auditFacts(spec: TaskSpec, hosts: string[]) {
  return { hosts, command: spec.command, cwd: spec.cwd, envNames: Object.keys(spec.env), runAs: spec.runAs };
}

/** What a task runs, wherever its hosts came from (a target or a re-run). */
type TaskSpec = Pick<
  TaskRecord,
  'command' | 'cwd' | 'env' | 'runAs' | 'timeoutMs' | 'deliveryTimeoutMs' | 'killGraceMs' | 'live'
>;

/** Rolling limits as counts; null: no limit. */
interface RollingLimits {
  concurrency: number | null;
  maxErrors: number | null;
}

/** `202` answer of `POST /v1/tasks` and `POST /v1/tasks/:id/rerun`. */
export interface TaskAccepted {
  id: string;
  hosts: string[];
  state: TaskRecord['state'];
  concurrency: number | null;
  maxErrors: number | null;
  rerunOf?: string;
  excluded?: ResolvedTarget['excluded'];
  unmatched?: string[];
}

/** `200` answer of a dry run: what a task would reach; nothing stored or sent. */
export interface DryRunAnswer extends ResolvedTarget, RollingLimits {
  dryRun: true;
  count: number;
  /** the hosts in short form, `db1,web[01-40]` */
  folded: string;
}

/**
 * Counts from `concurrency` / `maxErrors` given as `5` or `"25%"` of `total` hosts. Throws (400)
 * `LimitSpecError` (`@warren/api`) when one cannot be read, {@link BadQueryError} for `maxErrors` alone.
 */
export function rollingLimits(
  concurrency: LimitSpec | null | undefined,
  maxErrors: LimitSpec | null | undefined,
  total: number,
): RollingLimits {
  const c = concurrency === undefined || concurrency === null ? null : resolveLimit(concurrency, total, 'concurrency');
  const m = maxErrors === undefined || maxErrors === null ? null : resolveLimit(maxErrors, total, 'maxErrors');
  // With every host started at once there is nothing left to skip: an error budget would be a silent no-op.
  if (m !== null && c === null)
    throw new BadQueryError('maxErrors needs concurrency: with every host started at once, no host is left to skip');
  return { concurrency: c, maxErrors: m };
}

/**
 * Creates tasks (and dry runs of them) and re-runs: resolves the target, checks the caller's
 * host scope (a refusal audited), stores and audits the task, and sends its commands through the
 * dispatcher or the rolling scheduler. Reading tasks is {@link TaskReader}'s.
 */
@Injectable()
export class TasksService {
  private readonly log: Logger;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly dispatcher: DispatcherService,
    private readonly broker: BrokerService,
    private readonly config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly targets: TargetResolver,
    private readonly rolling: RollingScheduler,
    private readonly reader: TaskReader,
  ) {
    this.log = root.child({ component: 'tasks' });
  }

  /**
   * Resolves the target (names, ranges, globs, labels, all: see {@link TargetResolver}), then
   * creates the task with a `pending` row per host and publishes its commands (a rolling task only
   * its first `concurrency`), returning once the broker has confirmed them. Refuses with 400 a bad
   * selector, 422 a target that matches nothing, 403 (audited, nothing stored or sent) hosts
   * outside the caller's token patterns, 503 (nothing stored) while the broker is unreachable.
   */
  async create(dto: CreateTaskDto, caller: Caller): Promise<TaskAccepted> {
    const { spec, target, limits } = await this.prepare(dto, caller);
    const created = await this.launch(spec, target.hosts, limits, null, caller);
    return {
      ...created,
      ...(target.excluded.length > 0 ? { excluded: target.excluded } : {}),
      ...(target.unmatched.length > 0 ? { unmatched: target.unmatched } : {}),
    };
  }

  /**
   * What {@link create} would reach, refused for the same reasons (403 audited with `dryRun`);
   * stores and sends nothing, and an allowed dry run is not audited (it reveals no more than `GET /v1/hosts`).
   */
  async dryRun(dto: CreateTaskDto, caller: Caller): Promise<DryRunAnswer> {
    const { target, limits } = await this.prepare(dto, caller, { dryRun: true });
    return { dryRun: true, ...target, count: target.hosts.length, folded: foldHosts(target.hosts), ...limits };
  }

  private async prepare(
    dto: CreateTaskDto,
    caller: Caller,
    auditDetail?: Record<string, unknown>,
  ): Promise<{ spec: TaskSpec; target: ResolvedTarget; limits: RollingLimits }> {
    const labels = dto.labels === undefined ? undefined : normalizeLabels(dto.labels, 'labels');
    const target = await this.targets.resolve({ hosts: dto.hosts, labels, all: dto.all });
    const limits = rollingLimits(dto.concurrency, dto.maxErrors, target.hosts.length);
    const spec: TaskSpec = {
      command: dto.command,
      cwd: dto.cwd ?? null,
      env: dto.env ?? {},
      runAs: dto.runAs ?? null,
      timeoutMs: dto.timeoutMs ?? TASK_DEFAULTS.timeoutMs,
      deliveryTimeoutMs: dto.deliveryTimeoutMs ?? TASK_DEFAULTS.deliveryTimeoutMs,
      killGraceMs: dto.killGraceMs ?? TASK_DEFAULTS.killGraceMs,
      live: dto.live !== false,
    };
    await this.checkScope(spec, target.hosts, caller, auditDetail);
    return { spec, target, limits };
  }

  /**
   * A new task with the same command, cwd, env, user and timeouts on the hosts of `id` whose
   * invocation ended in one of `only` (default: every state but succeeded), recording where it
   * came from. Rolling limits are the original's unless given. 404 unknown task; 403 when the
   * caller may not read the original or reach a host; 422 when no host is in those states.
   */
  async rerun(id: string, dto: RerunTaskDto, caller: Caller): Promise<TaskAccepted> {
    const original = await this.store.getTask(id);
    if (!original) throw new TaskNotFoundError(id);
    await this.reader.checkReadable(original.id, caller);
    const only = new Set(dto.only ?? DEFAULT_RERUN_STATES);
    const invocations = await this.store.getInvocations(id);
    const hosts = invocations
      .filter((r) => only.has(r.state))
      .map((r) => r.host)
      .sort(naturalCompare);
    if (hosts.length === 0) {
      const now: Record<string, number> = {};
      for (const r of invocations) now[r.state] = (now[r.state] ?? 0) + 1;
      const states = Object.entries(now)
        .map(([s, n]) => `${n} ${s}`)
        .join(', ');
      throw new UnprocessableTaskError(
        `no host of task ${id} is in ${[...only].join(', ')} (its hosts now: ${states || 'none'}); nothing was sent`,
      );
    }
    const limits = rollingLimits(
      dto.concurrency ?? original.concurrency,
      dto.maxErrors ?? original.maxErrors,
      hosts.length,
    );
    const { command, cwd, env, runAs, timeoutMs, deliveryTimeoutMs, killGraceMs } = original;
    const spec: TaskSpec = {
      command,
      cwd,
      env,
      runAs,
      timeoutMs,
      deliveryTimeoutMs,
      killGraceMs,
      live: original.live !== false,
    };
    await this.checkScope(spec, hosts, caller, { rerunOf: id });
    return { ...(await this.launch(spec, hosts, limits, id, caller)), rerunOf: id };
  }

  /** 403 (audited) when a host is outside the caller's token patterns. */
  private async checkScope(
    spec: TaskSpec,
    hosts: string[],
    caller: Caller,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    const who = caller.principal;
    const outside = who.scope.outside(hosts);
    if (outside.length === 0) return;
    const reason = `host${outside.length > 1 ? 's' : ''} outside the token's patterns (${(who.hostPatterns ?? []).join(' ')}): ${nameHosts(outside)}`;
    await this.audit.record({
      actor: who.name,
      source: caller.source,
      action: 'task.create',
      decision: 'denied',
      reason,
      ...auditFacts(spec, hosts),
      ...(detail ? { detail } : {}),
    });
    throw new ForbiddenError(
      `the token ${JSON.stringify(who.name)} may not run commands on ${nameHosts(outside)}: ${reason}; nothing was sent`,
    );
  }

  /** Stores the task, audits it, and sends its commands (all, or a rolling task's first ones). */
  private async launch(
    spec: TaskSpec,
    hosts: string[],
    limits: RollingLimits,
    rerunOf: string | null,
    caller: Caller,
  ): Promise<TaskAccepted> {
    if (!this.broker.connected)
      throw new BrokerUnavailableError('the controller is not connected to the broker; nothing was sent');
    const who = caller.principal;
    const now = this.clock.now();
    const task: TaskRecord = {
      id: newTaskId(),
      ...spec,
      createdBy: who.name,
      state: 'running',
      createdAt: now,
      finishedAt: null,
      hostCount: hosts.length,
      concurrency: limits.concurrency,
      maxErrors: limits.maxErrors,
      rerunOf,
    };
    const rollingRun = limits.concurrency !== null && limits.concurrency < hosts.length;
    // A rolling task's invocations wait unsent, without a deadline, until the scheduler reaches them.
    const deadlineAt = rollingRun ? null : now + task.deliveryTimeoutMs + this.config.deliveryGraceMs;
    const invocations = hosts.map((host) => ({ id: randomUUID(), host, deadlineAt }));
    await this.store.createTask(task, invocations);
    // Recorded before anything is sent: a command that reached a host always has its record.
    const detail = { ...(rerunOf ? { rerunOf } : {}), ...(limits.concurrency !== null ? limits : {}) };
    await this.audit.record({
      at: now,
      actor: who.name,
      source: caller.source,
      action: 'task.create',
      decision: 'allowed',
      taskId: task.id,
      ...auditFacts(spec, hosts),
      ...(Object.keys(detail).length > 0 ? { detail } : {}),
    });
    this.log.info(
      {
        taskId: task.id,
        hosts: hosts.length,
        timeoutMs: task.timeoutMs,
        envNames: Object.keys(spec.env),
        runAs: task.runAs,
        actor: who.name,
        ...limits,
        rerunOf,
      },
      'task created',
    );
    if (rollingRun) await this.rolling.advance(task.id);
    else await this.dispatcher.dispatch(task, invocations, now);
    return { id: task.id, hosts, state: (await this.store.getTask(task.id))?.state ?? task.state, ...limits };
  }
}
