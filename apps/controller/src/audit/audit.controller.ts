import type { AuditList } from '@warren/api';
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { Roles } from '../auth/auth.decorators';
import { BadQueryError } from '../errors/errors';
import { AUDIT_LOG, type AuditLog, type AuditQuery } from './audit.port';

/** records per answer when `limit` is not given, and at most */
export const AUDIT_LIMITS = { default: 100, max: 1000 } as const;

type RawQuery = Record<string, unknown>;

/** A query string parameter as one string: `?a=1&a=2` is refused rather than guessed at. */
function one(q: RawQuery, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new BadQueryError(`${name} must be given once, non-empty`);
  if (v.length > 200) throw new BadQueryError(`${name} is longer than 200 characters`);
  return v;
}

/** Reads and checks the query string of `GET /v1/audit`; throws {@link BadQueryError} naming the parameter. */
export function parseAuditQuery(q: RawQuery): AuditQuery {
  const known = new Set(['limit', 'taskId', 'actor', 'action', 'decision', 'since', 'before']);
  const unknown = Object.keys(q).filter((k) => !known.has(k));
  if (unknown.length)
    throw new BadQueryError(`unknown query parameter ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  const out: AuditQuery = { limit: AUDIT_LIMITS.default };
  const limit = one(q, 'limit');
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > AUDIT_LIMITS.max)
      throw new BadQueryError(`limit must be a whole number from 1 to ${AUDIT_LIMITS.max}`);
    out.limit = Number(limit);
  }
  const before = one(q, 'before');
  if (before !== undefined) {
    if (!/^\d{1,15}$/.test(before) || Number(before) < 1)
      throw new BadQueryError('before must be the id of an audit record (a whole number from 1)');
    out.before = Number(before);
  }
  const decision = one(q, 'decision');
  if (decision !== undefined) {
    if (decision !== 'allowed' && decision !== 'denied') throw new BadQueryError('decision must be allowed or denied');
    out.decision = decision;
  }
  const since = one(q, 'since');
  if (since !== undefined) {
    const ms = /^\d+$/.test(since) ? Number(since) : Date.parse(since);
    if (!Number.isFinite(ms))
      throw new BadQueryError('since must be an ISO time (2025-01-31T12:00:00Z) or ms since the epoch');
    out.since = ms;
  }
  for (const name of ['taskId', 'actor', 'action'] as const) {
    const v = one(q, name);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** The audit log, read-only: nothing in the API edits or deletes a record. */
@Controller('v1/audit')
export class AuditController {
  constructor(@Inject(AUDIT_LOG) private readonly audit: AuditLog) {}

  /** `GET /v1/audit?limit=&taskId=&actor=&action=&decision=&since=&before=`: newest first, paged by `before`; admin only. */
  @Get()
  @Roles('admin')
  async list(@Query() query: RawQuery): Promise<AuditList> {
    return { records: await this.audit.query(parseAuditQuery(query)) };
  }
}
