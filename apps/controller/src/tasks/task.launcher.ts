import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import type { Caller } from '../auth/principal';
import { ControllerConfig } from '../config/controller.config';
import { TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import { DispatcherService } from './dispatcher.service';
import { RollingScheduler } from './rolling.scheduler';
import { TaskAudit } from './task-audit.service';

/** A short, typeable, URL-safe task id: `t_` + 12 base32 characters (60 random bits). */
export function newTaskId(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  let id = 't_';
  for (const b of bytes) id += alphabet[b & 31];
  return id;
}

/** What a task runs, wherever its hosts came from (a target or a re-run). */
export type TaskSpec = Pick<
  TaskRecord,
  | 'command'
  | 'cwd'
  | 'env'
  | 'runAs'
  | 'timeoutMs'
  | 'deliveryTimeoutMs'
  | 'killGraceMs'
  | 'live'
  | 'transfer'
  | 'stdin'
>;

/** Rolling limits as counts; null: no limit. */
export interface RollingLimits {
  concurrency: number | null;
  maxErrors: number | null;
}

/** A task launched: its id, hosts, state once its first commands went out, and its limits. */
export interface Launched extends RollingLimits {
  id: string;
  hosts: string[];
  state: TaskRecord['state'];
}

/**
 * Starts a task that has been decided on (target resolved, scope checked, broker connected: see
 * `TasksService`): stores it with one invocation per host, audits it, and only then sends its
 * commands, all at once through the {@link DispatcherService} or, for a rolling task, the first
 * `concurrency` through the {@link RollingScheduler}. Resolves once the broker has confirmed what
 * was sent.
 */
@Injectable()
export class TaskLauncher {
  private readonly log: Logger;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly dispatcher: DispatcherService,
    private readonly rolling: RollingScheduler,
    private readonly config: ControllerConfig,
    private readonly audit: TaskAudit,
    @Inject(ROOT_LOGGER) root: Logger,
    private readonly clock: Clock,
  ) {
    this.log = root.child({ component: 'tasks' });
  }

  /** Stores, audits and sends `spec` on `hosts` for `caller`; `rerunOf` names the task it repeats. */
  async launch(
    spec: TaskSpec,
    hosts: string[],
    limits: RollingLimits,
    rerunOf: string | null,
    caller: Caller,
  ): Promise<Launched> {
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
    await this.audit.created(caller, task.id, spec, hosts, now, detail);
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
        ...(task.transfer ? { transfer: task.transfer.op } : {}),
        ...(task.transfer?.op === 'put' ? { sha256: task.transfer.file, dest: task.transfer.dest } : {}),
        ...(task.stdin ? { stdin: task.stdin.file } : {}),
      },
      'task created',
    );
    if (rollingRun) await this.rolling.advance(task.id);
    // The caller's scope decides which known hosts an `unknown_host` reason may name.
    else await this.dispatcher.dispatch(task, invocations, now, (h) => who.scope.allows(h));
    return { id: task.id, hosts, state: (await this.store.getTask(task.id))?.state ?? task.state, ...limits };
  }
}
