import type { AuditList, AuditRecord } from '@warren/api';
import { arrayOf, int, isoTime, type JsonSchema, nullable, objectSchema, oneOfValues, ref, str } from './json-schema';

const decision = oneOfValues(['allowed', 'denied']);

/** {@link AuditRecord}: one record of `GET /v1/audit`. */
export const auditRecordSchema = objectSchema<AuditRecord>()({
  properties: {
    id: int(),
    at: isoTime(),
    actor: str('token name, `anonymous`, `local:<user>` or `agent:<host>`'),
    source: nullable(str('client IP, `broker` or `local`')),
    action: str('e.g. `task.create`, `host.accept`'),
    decision,
    reason: nullable(str()),
    taskId: nullable(str()),
    hosts: arrayOf(str()),
    command: nullable(str()),
    cwd: nullable(str()),
    envNames: arrayOf(str(), 'names of the env variables; never their values'),
    runAs: nullable(str()),
    invocationId: nullable(str()),
    detail: nullable({ type: 'object' }),
    count: int('how many decisions this record stands for (repeated refusals are counted: docs/security-api.md)', {
      minimum: 1,
    }),
    outcome: {
      type: 'object',
      additionalProperties: ref('InvocationState'),
      description: "for a created task: each host's invocation state now",
    },
  },
  required: [
    'id',
    'at',
    'actor',
    'source',
    'action',
    'decision',
    'reason',
    'taskId',
    'hosts',
    'command',
    'cwd',
    'envNames',
    'runAs',
    'invocationId',
    'detail',
    'count',
  ],
});

/** {@link AuditList}: `GET /v1/audit`. */
export const auditListSchema = objectSchema<AuditList>()({
  properties: { records: arrayOf(ref('AuditRecord'), 'newest first') },
  required: ['records'],
});

/** The audit schemas by component name. */
export const AUDIT_SCHEMAS: Record<string, JsonSchema> = {
  AuditRecord: auditRecordSchema,
  AuditList: auditListSchema,
};
