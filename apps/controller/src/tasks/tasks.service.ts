import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { BrokerService } from '../broker/broker.service';
import { ControllerConfig } from '../config/controller.config';
import { BrokerUnavailableError, TaskNotFoundError } from '../errors/errors';
import { ROOT_LOGGER } from '../logger';
import { TASK_STORE, type TaskRecord, type TaskStore } from '../store/task-store.port';
import { CompletionNotifier } from './completion.notifier';
import { DispatcherService } from './dispatcher.service';
import { type CreateTaskDto, TASK_DEFAULTS } from './dto/create-task.dto';
import { presentTask, presentTaskHead } from './task.presenter';

/** Longest a single `GET /v1/tasks/:id?waitMs=` is held, in ms. */
export const MAX_WAIT_MS = 120_000;

/** A short, typeable, URL-safe task id: `t_` + 12 base32 characters (60 random bits). */
export function newTaskId(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyz23456789';
  const bytes = randomBytes(12);
  let id = 't_';
  for (const b of bytes) id += alphabet[b & 31];
  return id;
}

@Injectable()
export class TasksService {
  private readonly log: Logger;

  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly dispatcher: DispatcherService,
    private readonly broker: BrokerService,
    private readonly notifier: CompletionNotifier,
    private readonly config: ControllerConfig,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'tasks' });
  }

  /**
   * Creates the task with a `pending` row per host, publishes its commands and returns once the
   * broker has confirmed them. Refuses (503, nothing stored) while the broker is unreachable.
   */
  async create(dto: CreateTaskDto): Promise<{ id: string; hosts: string[]; state: string }> {
    if (!this.broker.connected) throw new BrokerUnavailableError('the controller is not connected to the broker; nothing was sent');
    const hosts = [...new Set(dto.hosts)];
    const now = Date.now();
    const task: TaskRecord = {
      id: newTaskId(),
      command: dto.command,
      cwd: dto.cwd ?? null,
      env: dto.env ?? {},
      timeoutMs: dto.timeoutMs ?? TASK_DEFAULTS.timeoutMs,
      deliveryTimeoutMs: dto.deliveryTimeoutMs ?? TASK_DEFAULTS.deliveryTimeoutMs,
      killGraceMs: dto.killGraceMs ?? TASK_DEFAULTS.killGraceMs,
      state: 'running',
      createdAt: now,
      finishedAt: null,
      hostCount: hosts.length,
    };
    const deadlineAt = now + task.deliveryTimeoutMs + this.config.deliveryGraceMs;
    const invocations = hosts.map((host) => ({ id: randomUUID(), host, deadlineAt }));
    this.store.createTask(task, invocations);
    this.log.info({ taskId: task.id, hosts: hosts.length, timeoutMs: task.timeoutMs, envNames: Object.keys(task.env) }, 'task created');
    await this.dispatcher.dispatch(task, invocations, now);
    return { id: task.id, hosts, state: this.store.getTask(task.id)?.state ?? task.state };
  }

  /** The whole task; with `waitMs`, held until it completes or that time passes. */
  async get(id: string, waitMs = 0, signal?: AbortSignal) {
    let task = this.store.getTask(id);
    if (!task) throw new TaskNotFoundError(id);
    if (task.state === 'running' && waitMs > 0) {
      await this.notifier.wait(id, Math.min(waitMs, MAX_WAIT_MS), signal);
      task = this.store.getTask(id)!;
    }
    return presentTask(task, this.store.getInvocations(id));
  }

  /** Holds until the task completes (it always does: every invocation has a deadline). */
  async waitForCompletion(id: string, signal?: AbortSignal) {
    while (!signal?.aborted && !this.notifier.closed) {
      const task = this.store.getTask(id);
      if (!task) throw new TaskNotFoundError(id);
      if (task.state !== 'running') return presentTask(task, this.store.getInvocations(id));
      await this.notifier.wait(id, 1_000, signal);
    }
    return this.get(id);
  }

  list(limit: number) {
    return { tasks: this.store.listTasks(limit).map(({ task, counts }) => presentTaskHead(task, counts)) };
  }
}
