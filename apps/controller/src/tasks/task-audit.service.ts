import { Inject, Injectable } from '@nestjs/common';
import { type ResultMessage, UNVERIFIED_REJECT_CODES } from '@warren/protocol';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import type { Caller, Principal } from '../auth/principal';
import { MetricsService } from '../metrics/metrics.service';
import type { TaskRecord } from '../store/task-store.port';

/** What a task runs, as the audit log keeps it. */
export type AuditedSpec = Pick<TaskRecord, 'command' | 'cwd' | 'env' | 'runAs' | 'transfer' | 'stdin'>;

/** Who asked for a cancel, and from where. */
export interface CancelRequester {
  principal: Principal;
  ip: string | null;
}

/** What a cancel was about, as every record of it says. */
export interface CancelSubject {
  taskId: string;
  command: string;
  /** the hosts asked for, or every host of the task */
  hosts: string[];
}

/**
 * Every audit record about tasks, written in one place: a task created or refused (`task.create`),
 * a cancel done or refused (`task.cancel`), and a refusal an agent reports (`agent.rejected`, also
 * counted by code on `/metrics`). A record keeps a task's hosts and exact command, and the names
 * of its env variables but never their values. Callers decide; this only writes what they decided.
 */
@Injectable()
export class TaskAudit {
  constructor(
    @Inject(AUDIT_LOG) private readonly log: AuditLog,
    private readonly metrics: MetricsService,
  ) {}

  /** A task (or a dry run or re-run of one, as `detail` says) refused before anything was stored or sent. */
  createRefused(caller: Caller, spec: AuditedSpec, hosts: string[], reason: string, detail?: Record<string, unknown>) {
    return this.log.record({
      actor: caller.principal.name,
      source: caller.source,
      action: 'task.create',
      decision: 'denied',
      reason,
      ...facts(spec, hosts),
      ...withTransfer(spec, detail ?? {}),
    });
  }

  /** A task stored at `at` (ms) and about to be sent; `detail` only when it has something to say. */
  created(
    caller: Caller,
    taskId: string,
    spec: AuditedSpec,
    hosts: string[],
    at: number,
    detail: Record<string, unknown>,
  ) {
    return this.log.record({
      at,
      actor: caller.principal.name,
      source: caller.source,
      action: 'task.create',
      decision: 'allowed',
      taskId,
      ...facts(spec, hosts),
      ...withTransfer(spec, detail),
    });
  }

  /** A cancel refused (nothing was cancelled). */
  cancelRefused(who: CancelRequester, subject: CancelSubject, reason: string) {
    return this.log.record({ ...cancelBase(who, subject), decision: 'denied', reason });
  }

  /** A cancel done: `detail` names the hosts cancelled and those being killed. */
  cancelled(who: CancelRequester, subject: CancelSubject, detail: Record<string, unknown>) {
    return this.log.record({ ...cancelBase(who, subject), decision: 'allowed', detail });
  }

  /**
   * A refusal an agent reports, counted by its code. One record each, but for a message whose
   * signature did not verify (anyone who can publish can send those at line rate, and their ids
   * are claims): those are recorded once per host and code a minute with a count, so a flood of
   * forged commands cannot flood the log. So is a command addressed to another namespace
   * (`wrong_namespace`): a copy from another installation, replayed here as often as its holder
   * likes, that names no invocation of this controller. A replay or a command for another host of
   * this namespace was signed by this controller and names a real invocation: one record each.
   */
  async agentRejected(m: ResultMessage): Promise<void> {
    const forged = m.code !== undefined && (UNVERIFIED_REJECT_CODES.includes(m.code) || m.code === 'wrong_namespace');
    await this.log.record({
      actor: `agent:${m.host}`,
      source: 'broker',
      action: 'agent.rejected',
      decision: 'denied',
      reason: m.reason,
      taskId: m.taskId === 'unknown' ? null : m.taskId,
      hosts: [m.host],
      invocationId: m.invocationId,
      detail: { code: m.code ?? null },
      ...(forged ? { repeatKey: `${m.host} ${m.code}` } : {}),
    });
    this.metrics.agentRejected(m.code);
  }
}

/** What the audit log keeps of a task: its hosts and exact command, env names but never values. */
function facts(spec: AuditedSpec, hosts: string[]) {
  return { hosts, command: spec.command, cwd: spec.cwd, envNames: Object.keys(spec.env), runAs: spec.runAs };
}

/**
 * `{detail}` with what a file transfer adds to a task's record (the file's hash and name, the
 * destination or path, the mode and owner asked; or the stdin file's hash), or `{}` when there is
 * nothing to say. The outcome per host is read from the invocations, as for a command.
 */
function withTransfer(spec: AuditedSpec, detail: Record<string, unknown>): { detail?: Record<string, unknown> } {
  const t = spec.transfer;
  const all = {
    ...detail,
    ...(t?.op === 'put'
      ? {
          transfer: 'put',
          sha256: t.file,
          name: t.name,
          size: t.size,
          dest: t.dest,
          mode: t.mode === null ? null : t.mode.toString(8).padStart(4, '0'),
          owner: t.owner === null ? null : t.group === null ? t.owner : `${t.owner}:${t.group}`,
        }
      : {}),
    ...(t?.op === 'get' ? { transfer: 'get', path: t.path, maxBytes: t.maxBytes } : {}),
    ...(spec.stdin ? { stdin: spec.stdin.file, stdinSize: spec.stdin.size } : {}),
  };
  return Object.keys(all).length > 0 ? { detail: all } : {};
}

function cancelBase(who: CancelRequester, s: CancelSubject) {
  return {
    actor: who.principal.name,
    source: who.ip,
    action: 'task.cancel',
    taskId: s.taskId,
    command: s.command,
    hosts: s.hosts,
  };
}
