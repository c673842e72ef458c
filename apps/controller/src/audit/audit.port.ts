import type { AuditRecord } from '@warren/api';
/**
 * One audited decision. Every decision the controller takes or hears of is one record: task
 * created or denied, API access denied, host key accepted, an agent's refusal of a message.
 * Records are append-only: nothing in the API edits or deletes them.
 */
export interface AuditEvent {
  /** ms since epoch; filled in by the log when absent */
  at?: number;
  /** who: the API token's name, `agent:<host>` for what an agent reported, `anonymous` without a token */
  actor: string;
  /** from where: the client's IP address, or `broker` for what came over the broker */
  source: string | null;
  /** what was asked, e.g. `task.create`, `task.cancel`, `api.request`, `host.accept`, `agent.rejected` */
  action: string;
  /** `allowed` or `denied` */
  decision: 'allowed' | 'denied';
  /** why it was denied (or any note on an allowed one) */
  reason?: string | null;
  taskId?: string | null;
  /** hosts the decision is about */
  hosts?: string[];
  /** the exact command */
  command?: string | null;
  cwd?: string | null;
  /** names of the env variables set; never their values */
  envNames?: string[];
  runAs?: string | null;
  /** the invocation an agent's report is about */
  invocationId?: string | null;
  /** anything else worth keeping (small) */
  detail?: Record<string, unknown>;
  /** how many decisions the record stands for; 1 when absent (`AggregatingAuditLog` sets more) */
  count?: number;
  /**
   * Set on a refusal anyone can repeat at line rate (an anonymous 401 or 429, a forged broker
   * message, a fresh-key heartbeat): what makes two such refusals "the same" besides their
   * decision, action and source (e.g. `anonymous no token`). Such a refusal is recorded once per
   * interval per decision, action, source and this key, with a count (`AggregatingAuditLog`).
   * Never stored.
   */
  repeatKey?: string;
}

/** Filters of `GET /v1/audit`; all optional, combined with AND. */
export interface AuditQuery {
  /** most records returned, newest first */
  limit: number;
  taskId?: string;
  actor?: string;
  action?: string;
  decision?: 'allowed' | 'denied';
  /** ms since epoch; records at or after */
  since?: number;
  /**
   * paging: only records whose `id` is below this one (the last `id` of the page before; ids grow
   * with time, so the next page is the next older records, with none missed or repeated)
   */
  before?: number;
}

/** One stored record, as the API shows it: the contract's `AuditRecord`. */
export type AuditRecordView = AuditRecord;

/** Where audit records go: append-only, nothing edits or deletes a record. */
export interface AuditLog {
  /**
   * Appends one record, stamped with the log's clock when `event.at` is absent. Resolves once it is
   * stored; never rejects: an audit failure is logged loudly instead, so a caller may also leave
   * the promise unawaited where nothing must wait for the record.
   */
  record(event: AuditEvent): Promise<void>;
  /**
   * Appends records in the order given, in one write (one transaction or statement), each stamped
   * as by {@link record}: for many decisions taken at once (a batch of heartbeats). Resolves once
   * they are stored; never rejects, as {@link record}.
   */
  recordMany(events: readonly AuditEvent[]): Promise<void>;
  /**
   * Records matching `q`, newest first (at most `q.limit`); a `task.create` record that was
   * allowed carries each host's invocation state now. Rejects only when the storage fails.
   */
  query(q: AuditQuery): Promise<AuditRecordView[]>;
}

/** Injection token of the {@link AuditLog}. */
export const AUDIT_LOG = Symbol('AUDIT_LOG');
