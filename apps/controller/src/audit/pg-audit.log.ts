import type { Clock } from '@warren/runtime';
import type { Logger } from 'pino';
import type { PgPool } from '../store/postgres/pg.database';
import type { AuditEvent, AuditLog, AuditQuery, AuditRecordView } from './audit.port';
import { type AuditRow, auditView, json } from './audit.rows';

/** Filters of {@link AuditQuery} and the column each compares (`since` is the one range). */
const FILTERS = [
  ['taskId', 'task_id ='],
  ['actor', 'actor ='],
  ['action', 'action ='],
  ['decision', 'decision ='],
  ['since', 'at >='],
  ['before', 'id <'],
] as const;

/** Rows of one `INSERT` at most: PostgreSQL takes 65,535 parameters in a statement. */
const MAX_ROWS = 1_000;

/** The columns a record fills, in the order of `PgAuditLog.row`. */
const COLUMNS = [
  'at',
  'actor',
  'source',
  'action',
  'decision',
  'reason',
  'task_id',
  'hosts',
  'command',
  'cwd',
  'env_names',
  'run_as',
  'invocation_id',
  'detail',
  'count',
] as const;

/**
 * The audit log in PostgreSQL (table `audit_log` of migration 0001), shared by every controller on
 * the database: append-only (nothing here updates or deletes a row), one `INSERT` per record (one
 * multi-row `INSERT` per 1,000 records for {@link recordMany}, its rows taking ids in the order given). Ids
 * come from the table's identity column (a sequence, drawn at insert time): "newest first" is the
 * highest id first, so two records written by two controllers within the same milliseconds may list
 * in either order. The per-host outcome of a `task.create` record is read from `invocations` of the
 * same database, in one query per page. `record` never rejects: a failure (database away, …) is
 * logged at error level as `AUDIT RECORD NOT WRITTEN`.
 */
export class PgAuditLog implements AuditLog {
  constructor(
    private readonly pool: PgPool,
    private readonly clock: Clock,
    private readonly log?: Logger,
  ) {}

  async record(e: AuditEvent): Promise<void> {
    return this.recordMany([e]);
  }

  async recordMany(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    try {
      for (let i = 0; i < events.length; i += MAX_ROWS) {
        const chunk = events.slice(i, i + MAX_ROWS);
        const params = chunk.flatMap((e) => this.row(e));
        const rows = chunk.map((_, r) => `(${COLUMNS.map((_c, j) => `$${r * COLUMNS.length + j + 1}`).join(', ')})`);
        await this.pool.query(`INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`, params);
      }
    } catch (err) {
      // The port promises never to throw into the caller; a lost record must at least be loud.
      for (const e of events)
        this.log?.error(
          { err, action: e.action, actor: e.actor, decision: e.decision, taskId: e.taskId },
          'AUDIT RECORD NOT WRITTEN',
        );
    }
  }

  /** The values of `e`, in the order of {@link COLUMNS}. */
  private row(e: AuditEvent): unknown[] {
    return [
      e.at ?? this.clock.now(),
      e.actor,
      e.source ?? null,
      e.action,
      e.decision,
      e.reason ?? null,
      e.taskId ?? null,
      json(e.hosts),
      e.command ?? null,
      e.cwd ?? null,
      json(e.envNames),
      e.runAs ?? null,
      e.invocationId ?? null,
      json(e.detail),
      e.count ?? 1,
    ];
  }

  async query(q: AuditQuery): Promise<AuditRecordView[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    for (const [key, condition] of FILTERS) {
      if (q[key] === undefined) continue;
      params.push(q[key]);
      where.push(`${condition} $${params.length}`);
    }
    params.push(q.limit);
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`;
    const { rows } = await this.pool.query<AuditRow>(sql, params);
    const views = rows.map(auditView);
    await this.addOutcomes(views);
    return views;
  }

  /** Sets `outcome` (host → invocation state now) on every allowed `task.create` view, in one query. */
  private async addOutcomes(views: AuditRecordView[]): Promise<void> {
    const created = views.filter((v) => v.action === 'task.create' && v.decision === 'allowed' && v.taskId);
    if (created.length === 0) return;
    const taskIds = [...new Set(created.map((v) => v.taskId as string))];
    const { rows } = await this.pool.query<{ task_id: string; host: string; state: string }>(
      `SELECT task_id, host, state FROM invocations WHERE task_id = ANY($1) ORDER BY host COLLATE "C"`,
      [taskIds],
    );
    for (const v of created) {
      v.outcome = Object.fromEntries(rows.filter((r) => r.task_id === v.taskId).map((r) => [r.host, r.state]));
    }
  }
}
