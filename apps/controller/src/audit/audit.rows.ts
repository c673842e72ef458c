import type { AuditRecordView } from './audit.port';

/** A row of `audit_log`, as both adapters read it (lists and detail as JSON text). */
export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  source: string | null;
  action: string;
  decision: 'allowed' | 'denied';
  reason: string | null;
  task_id: string | null;
  hosts: string | null;
  command: string | null;
  cwd: string | null;
  env_names: string | null;
  run_as: string | null;
  invocation_id: string | null;
  detail: string | null;
  count: number;
}

/** JSON text of a value, or null for none. */
export const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** The record as the API shows it, without the outcome (each adapter adds that from its store). */
export function auditView(r: AuditRow): AuditRecordView {
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    source: r.source,
    action: r.action,
    decision: r.decision,
    reason: r.reason,
    taskId: r.task_id,
    hosts: r.hosts ? (JSON.parse(r.hosts) as string[]) : [],
    command: r.command,
    cwd: r.cwd,
    envNames: r.env_names ? (JSON.parse(r.env_names) as string[]) : [],
    runAs: r.run_as,
    invocationId: r.invocation_id,
    detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
    count: r.count,
  };
}
