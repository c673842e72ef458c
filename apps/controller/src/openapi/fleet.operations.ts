import { AUDIT_LIMITS } from '../audit/audit.controller';
import { int, oneOfValues, ref, str } from './json-schema';
import { json, type OperationTable, type ParamDoc } from './operation-doc';

const host: ParamDoc = { description: 'the host id', schema: str() };
const auditFilter = (description: string): ParamDoc => ({ description, schema: str(undefined, { maxLength: 200 }) });

/** The routes of hosts, audit, metrics, health and this document. */
export const FLEET_OPERATIONS: OperationTable = {
  'GET /v1/hosts': {
    operationId: 'listHosts',
    summary: 'The agents, with their presence and trust',
    description: 'A token limited to host patterns sees only matching hosts.',
    responses: { 200: { description: 'the agents, by host', content: json(ref('HostList')) } },
  },
  'GET /v1/hosts/keys': {
    operationId: 'listHostKeys',
    summary: 'Accepted, pending and pre-accepted host keys with their fingerprints',
    responses: { 200: { description: 'the keys, by host', content: json(ref('HostKeyList')) } },
  },
  'POST /v1/hosts/{host}/accept': {
    operationId: 'acceptHost',
    summary: "Accept a host's pending key (or its changed labels), or pre-accept a key not heard yet",
    description:
      '400 for a name that is no host id; 409 when there is nothing (unambiguous) to accept. Audited (`host.accept`).',
    path: { host },
    responses: { 200: { description: 'what was accepted', content: json(ref('HostAccepted')) } },
    errors: [409],
  },
  'POST /v1/hosts/{host}/reject': {
    operationId: 'rejectHost',
    summary: "Reject a host's pending key, or withdraw its pre-accepted one",
    description: '409 when there is nothing (unambiguous) to reject. Audited (`host.reject`).',
    path: { host },
    responses: { 200: { description: 'what was rejected', content: json(ref('HostRejected')) } },
    errors: [409],
  },
  'GET /v1/audit': {
    operationId: 'listAudit',
    summary: 'The audit log, newest first (read-only)',
    description: 'Each parameter at most once; an unknown one, or a bad value, is a 400 naming it.',
    query: {
      limit: {
        description: `records per answer, default ${AUDIT_LIMITS.default}`,
        schema: int(undefined, { minimum: 1, maximum: AUDIT_LIMITS.max }),
      },
      taskId: auditFilter('records of this task'),
      actor: auditFilter('records of this actor: a token name, `anonymous`, `local:<user>`, `agent:<host>`'),
      action: auditFilter('records of this action: `task.create`, `host.accept`, …'),
      decision: { description: 'allowed or denied decisions only', schema: oneOfValues(['allowed', 'denied']) },
      since: auditFilter('records at or after: an ISO time or ms since the epoch'),
      before: {
        description:
          'paging: only records older than the one with this `id` (give the last `id` of the page before; none missed or repeated)',
        schema: int(undefined, { minimum: 1 }),
      },
    },
    responses: { 200: { description: 'the records', content: json(ref('AuditList')) } },
  },
  'GET /v1/whoami': {
    operationId: 'whoami',
    summary: "The calling token's name, role and host patterns",
    description:
      'Any role. The web console reads it to show only what the token may do; the server still enforces each role.',
    responses: { 200: { description: 'the token', content: json(ref('Whoami')) } },
  },
  'GET /metrics': {
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format 0.0.4)',
    description: 'Public with `--metrics-public`. The metrics: docs/metrics.md.',
    responses: {
      200: {
        description: 'the metrics',
        content: { 'text/plain': { schema: { type: 'string', description: 'Prometheus text format 0.0.4' } } },
      },
    },
  },
  'GET /healthz': {
    operationId: 'health',
    summary: 'Liveness: the broker connection and the database',
    responses: {
      200: { description: 'the broker connection is up and the database answers', content: json(ref('Health')) },
      503: {
        description: 'the broker connection is down or the database does not answer',
        content: json(ref('Health')),
      },
    },
  },
  'GET /v1/openapi.json': {
    operationId: 'openApiDocument',
    summary: 'This document: the OpenAPI 3.1 description of the whole HTTP API',
    responses: {
      200: {
        description: 'the OpenAPI 3.1 document (also in the repository as docs/openapi.json)',
        content: json({ type: 'object', description: 'an OpenAPI 3.1 document' }),
      },
    },
  },
};
