/** An audited decision. */
export type AuditDecision = 'allowed' | 'denied';

/** Query string of `GET /v1/audit` (admin only); each parameter at most once, unknown ones refused. */
export interface AuditQueryParams {
  /** records per answer, newest first: 1–1000, default 100 */
  limit?: number;
  taskId?: string;
  actor?: string;
  action?: string;
  decision?: AuditDecision;
  /** records at or after: an ISO time or ms since the epoch */
  since?: string;
}

/** One record of `GET /v1/audit`. */
export interface AuditRecord {
  id: number;
  /** ISO time */
  at: string;
  /** token name, `anonymous`, `local:<user>` or `agent:<host>` */
  actor: string;
  /** client IP, `broker` or `local` */
  source: string | null;
  /** e.g. `task.create`, `host.accept` */
  action: string;
  decision: AuditDecision;
  reason: string | null;
  taskId: string | null;
  hosts: string[];
  command: string | null;
  cwd: string | null;
  /** names of the env variables; never their values */
  envNames: string[];
  runAs: string | null;
  invocationId: string | null;
  detail: Record<string, unknown> | null;
  /**
   * how many decisions this record stands for: 1, or more for a refusal anyone can repeat at line
   * rate (an anonymous 401 or 429, a forged broker message, a fresh-key heartbeat), recorded once
   * per source, action and reason per interval with the number of repeats (see docs/security-api.md)
   */
  count: number;
  /** for a created task: each host's invocation state now */
  outcome?: Record<string, string>;
}

/** `GET /v1/audit`. */
export interface AuditList {
  records: AuditRecord[];
}
