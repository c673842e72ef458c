import type { Clock } from '@warren/runtime';
import type { Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Db } from '../store/database';
import type { AuditEvent, AuditLog, AuditQuery, AuditRecordView } from './audit.port';
import { type AuditRow, auditView, json } from './audit.rows';

/**
 * The audit log in the controller's SQLite file: append-only (nothing here updates or deletes a
 * row). Each record is written in its own statement, synchronously (better-sqlite3), before the
 * promise of {@link record} settles; {@link recordMany} writes its records in one transaction.
 */
export class SqliteAuditLog implements AuditLog {
  private readonly insert;
  /** prepared on first use: the task store may create the invocations table after this log */
  private outcomes: Statement | null = null;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly log?: Logger,
  ) {
    this.insert = db.prepare(
      `INSERT INTO audit_log (at, actor, source, action, decision, reason, task_id, hosts, command, cwd, env_names, run_as, invocation_id, detail, count)
       VALUES (@at, @actor, @source, @action, @decision, @reason, @taskId, @hosts, @command, @cwd, @envNames, @runAs, @invocationId, @detail, @count)`,
    );
  }

  /** The per-host outcome query, or null while there is no invocations table (`token` subcommands on a new file). */
  private outcomeQuery(): Statement | null {
    if (this.outcomes) return this.outcomes;
    const exists =
      this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'invocations'`).get() !== undefined;
    if (exists) this.outcomes = this.db.prepare(`SELECT host, state FROM invocations WHERE task_id = ? ORDER BY host`);
    return this.outcomes;
  }

  async record(e: AuditEvent): Promise<void> {
    return this.recordMany([e]);
  }

  async recordMany(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      this.db.transaction(() => {
        for (const e of events) this.insert.run(this.row(e));
      })();
    } catch (err) {
      // The port promises never to throw into the caller; a lost record must at least be loud.
      for (const e of events)
        this.log?.error(
          { err, action: e.action, actor: e.actor, decision: e.decision, taskId: e.taskId },
          'AUDIT RECORD NOT WRITTEN',
        );
    }
  }

  /** The statement's parameters for `e`. */
  private row(e: AuditEvent): Record<string, unknown> {
    return {
      at: e.at ?? this.clock.now(),
      actor: e.actor,
      source: e.source ?? null,
      action: e.action,
      decision: e.decision,
      reason: e.reason ?? null,
      taskId: e.taskId ?? null,
      hosts: json(e.hosts),
      command: e.command ?? null,
      cwd: e.cwd ?? null,
      envNames: json(e.envNames),
      runAs: e.runAs ?? null,
      invocationId: e.invocationId ?? null,
      detail: json(e.detail),
      count: e.count ?? 1,
    };
  }

  async query(q: AuditQuery): Promise<AuditRecordView[]> {
    const params: Record<string, unknown> = { limit: q.limit };
    const where: string[] = [];
    // Each filter given becomes a condition on its column; `since` is the one range.
    const filters = [
      ['taskId', 'task_id = @taskId'],
      ['actor', 'actor = @actor'],
      ['action', 'action = @action'],
      ['decision', 'decision = @decision'],
      ['since', 'at >= @since'],
      ['before', 'id < @before'],
    ] as const;
    for (const [key, condition] of filters) {
      if (q[key] === undefined) continue;
      where.push(condition);
      params[key] = q[key];
    }
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as AuditRow[]).map((r) => this.view(r));
  }

  private view(r: AuditRow): AuditRecordView {
    const v = auditView(r);
    const outcomes = r.action === 'task.create' && r.decision === 'allowed' && r.task_id ? this.outcomeQuery() : null;
    if (outcomes) {
      v.outcome = Object.fromEntries(
        (outcomes.all(r.task_id) as { host: string; state: string }[]).map((o) => [o.host, o.state]),
      );
    }
    return v;
  }
}
