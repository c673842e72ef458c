import { Inject, Injectable } from '@nestjs/common';
import { foldHosts, type LimitSpec, naturalCompare, normalizeLabels, resolveLimit } from '@warren/api';
import { nameHosts } from '../auth/host-patterns';
import type { Caller } from '../auth/principal';
import { BrokerService } from '../broker/broker.service';
import {
  BadQueryError,
  BrokerUnavailableError,
  ForbiddenError,
  TaskNotFoundError,
  UnprocessableTaskError,
} from '../errors/errors';
import { ControllerConfig } from '../config/controller.config';
import { FILE_STORE, type FileStore } from '../store/file-store.port';
import { TASK_STORE, type TaskStore } from '../store/task-store.port';
import { type CreateTaskDto, TASK_DEFAULTS } from './dto/create-task.dto';
import { DEFAULT_RERUN_STATES, type RerunTaskDto } from './dto/rerun-task.dto';
import { planTarget, type ResolvedTarget, TargetResolver } from './target.resolver';
import { TaskAudit } from './task-audit.service';
import { type Launched, type RollingLimits, TaskLauncher, type TaskSpec } from './task.launcher';
import { TaskReader } from './task-reader.service';

/** `202` answer of `POST /v1/tasks` and `POST /v1/tasks/:id/rerun`. */
export interface TaskAccepted extends Launched {
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
 * Decides on tasks (and dry runs of them) and re-runs: resolves the target, reads the rolling
 * limits, checks the caller's host scope (a refusal audited) and that the broker is connected, then
 * hands the task to the {@link TaskLauncher}, which stores, audits and sends it. Reading tasks is
 * {@link TaskReader}'s.
 */
@Injectable()
export class TasksService {
  constructor(
    @Inject(TASK_STORE) private readonly store: TaskStore,
    private readonly broker: BrokerService,
    private readonly targets: TargetResolver,
    private readonly reader: TaskReader,
    private readonly audit: TaskAudit,
    private readonly launcher: TaskLauncher,
    @Inject(FILE_STORE) private readonly files: FileStore,
    private readonly config: ControllerConfig,
  ) {}

  /**
   * What a body runs: its command, or for a put or get a description of it (`put /etc/motd`), with
   * the transfer and the stdin file as stored. 422 `no uploaded file <sha>` for a put or stdin of a
   * file not uploaded, unless `dryRun` (a preview of the target, which `warren cp --dry-run` asks
   * before uploading anything: the file is then shown with size 0 and no name); 422 for a get's
   * `maxBytes` over `--max-file-size`.
   */
  private async kindOf(dto: CreateTaskDto, dryRun: boolean): Promise<Pick<TaskSpec, 'command' | 'transfer' | 'stdin'>> {
    const fileOf = async (sha: string) => {
      const file = await this.files.getFile(sha);
      if (file) return file;
      if (dryRun) return { sha256: sha, size: 0, name: null };
      throw new UnprocessableTaskError(`no uploaded file ${sha}; upload it with POST /v1/files first`);
    };
    if (dto.put) {
      const { file: sha, dest, mode, owner, mkdir } = dto.put;
      const file = await fileOf(sha);
      const [user, group] = owner === undefined ? [null, null] : owner.split(':');
      const transfer = {
        op: 'put' as const,
        file: sha,
        name: file.name,
        size: file.size,
        dest,
        mode: mode === undefined ? null : parseInt(mode, 8),
        owner: user,
        group: group ?? null,
        mkdir: mkdir === true,
      };
      return { command: `put ${dest}`, transfer, stdin: null };
    }
    if (dto.get) {
      const max = this.config.maxFileBytes;
      const maxBytes = dto.get.maxBytes ?? max;
      if (maxBytes > max)
        throw new UnprocessableTaskError(`get.maxBytes ${maxBytes} is over the controller's --max-file-size of ${max}`);
      return { command: `get ${dto.get.path}`, transfer: { op: 'get', path: dto.get.path, maxBytes }, stdin: null };
    }
    let stdin: TaskSpec['stdin'] = null;
    if (dto.stdin !== undefined) {
      const file = await fileOf(dto.stdin);
      stdin = { file: file.sha256, size: file.size };
    }
    // The DTO makes sure a body without put or get has a command.
    return { command: dto.command ?? '', transfer: null, stdin };
  }

  /**
   * Resolves the target (names, ranges, globs, labels, all: see {@link TargetResolver}), then
   * creates the task with a `pending` row per host and publishes its commands (a rolling task only
   * its first `concurrency`), returning once the broker has confirmed them. Refuses with 400 a bad
   * selector, more than 100 globs or a glob past its bracket bounds, 422 a target that matches
   * nothing, names more than 10000 hosts or whose globs pass the matching budget, 403 (audited, nothing stored or sent) names or ranges outside the caller's token
   * patterns (checked before any glob is matched; globs, labels and `all` select only among hosts
   * the token reaches), 503 (nothing stored) while the broker is unreachable.
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
    const selector = { hosts: dto.hosts, labels, all: dto.all };
    const spec: TaskSpec = {
      ...(await this.kindOf(dto, auditDetail?.dryRun === true)),
      cwd: dto.cwd ?? null,
      env: dto.env ?? {},
      runAs: dto.runAs ?? null,
      timeoutMs: dto.timeoutMs ?? TASK_DEFAULTS.timeoutMs,
      deliveryTimeoutMs: dto.deliveryTimeoutMs ?? TASK_DEFAULTS.deliveryTimeoutMs,
      killGraceMs: dto.killGraceMs ?? TASK_DEFAULTS.killGraceMs,
      live: dto.live !== false,
    };
    // The cheap checks first: sizes (planTarget), then the token's scope over the names given, and
    // only then globs, labels and `all`, matched among the hosts the token reaches.
    await this.checkScope(spec, planTarget(selector).names, caller, auditDetail);
    const scope = caller.principal.scope;
    const target = await this.targets.resolve(selector, (h) => scope.allows(h));
    const limits = rollingLimits(dto.concurrency, dto.maxErrors, target.hosts.length);
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
      transfer: original.transfer ?? null,
      stdin: original.stdin ?? null,
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
    await this.audit.createRefused(caller, spec, hosts, reason, detail);
    throw new ForbiddenError(
      `the token ${JSON.stringify(who.name)} may not run commands on ${nameHosts(outside)}: ${reason}; nothing was sent`,
    );
  }

  /** 503 (nothing stored) while the broker is unreachable; otherwise the task launched. */
  private async launch(
    spec: TaskSpec,
    hosts: string[],
    limits: RollingLimits,
    rerunOf: string | null,
    caller: Caller,
  ): Promise<Launched> {
    if (!this.broker.connected)
      throw new BrokerUnavailableError('the controller is not connected to the broker; nothing was sent');
    return this.launcher.launch(spec, hosts, limits, rerunOf, caller);
  }
}
