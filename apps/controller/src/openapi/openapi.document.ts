import type { Type } from '@nestjs/common';
import { WARREN_VERSION } from '@warren/protocol';
import { AcceptHostDto, RejectHostDto } from '../hosts/hosts.controller';
import { CreateTaskDto } from '../tasks/dto/create-task.dto';
import { RerunTaskDto } from '../tasks/dto/rerun-task.dto';
import { CancelTaskDto } from '../tasks/task-actions.controller';
import { AUDIT_SCHEMAS } from './audit.schemas';
import { apiErrorBodySchema, healthSchema, STATE_SCHEMAS, whoamiSchema } from './common.schemas';
import { EVENT_SCHEMAS } from './events.schemas';
import { FILE_OPERATIONS } from './files.operations';
import { FILE_SCHEMAS } from './files.schemas';
import { FLEET_OPERATIONS } from './fleet.operations';
import { HOSTS_SCHEMAS } from './hosts.schemas';
import { type JsonSchema, ref } from './json-schema';
import { json, type OperationDoc, type OperationTable, type ParamDoc, type ResponseDoc } from './operation-doc';
import { type ScannedRoute, scanRoutes } from './routes.scan';
import { BEARER_SCHEME, SHARED_ERRORS } from './shared-responses';
import { cancelTaskRequestSchema, createTaskRequestSchema, rerunRequestSchema } from './task-requests.schemas';
import { TASK_RESPONSE_SCHEMAS } from './task-responses.schemas';
import { TASK_OPERATIONS } from './tasks.operations';

/** The OpenAPI version the document is written in: 3.1, whose schemas are JSON Schema 2020-12. */
export const OPENAPI_VERSION = '3.1.0';

/** An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0), as plain JSON. */
export type OpenApiDocument = {
  openapi: string;
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, JsonSchema>>;
  components: {
    schemas: Record<string, JsonSchema>;
    responses: Record<string, JsonSchema>;
    securitySchemes: Record<string, JsonSchema>;
  };
} & JsonSchema;

/** Every schema of `components.schemas`, by the `@warren/api` type name it describes. */
export const COMPONENT_SCHEMAS: Record<string, JsonSchema> = {
  ApiErrorBody: apiErrorBodySchema,
  Health: healthSchema,
  Whoami: whoamiSchema,
  ...STATE_SCHEMAS,
  CreateTaskRequest: createTaskRequestSchema,
  RerunRequest: rerunRequestSchema,
  CancelTaskRequest: cancelTaskRequestSchema,
  ...TASK_RESPONSE_SCHEMAS,
  ...FILE_SCHEMAS,
  ...EVENT_SCHEMAS,
  ...HOSTS_SCHEMAS,
  ...AUDIT_SCHEMAS,
};

/** The schema of each `@Body()` class, by component name: a route whose body class is not here is an error. */
export const REQUEST_BODIES = new Map<Type, string>([
  [CreateTaskDto, 'CreateTaskRequest'],
  [RerunTaskDto, 'RerunRequest'],
  [CancelTaskDto, 'CancelTaskRequest'],
  [AcceptHostDto, 'AcceptHostRequest'],
  [RejectHostDto, 'RejectHostRequest'],
]);

/** Every route's documentation, by `METHOD /path`. */
export const OPERATIONS: OperationTable = { ...TASK_OPERATIONS, ...FILE_OPERATIONS, ...FLEET_OPERATIONS };

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

/** What is wrong between a route and its documentation, one line each. */
function mismatches(route: ScannedRoute, doc: OperationDoc): string[] {
  const where = `${route.key} (${route.controller.name}.${route.handler})`;
  const out: string[] = [];
  const documented = (r: Record<string, ParamDoc> | undefined) => Object.keys(r ?? {});
  if (!sameSet(route.pathParams, documented(doc.path)))
    out.push(
      `${where}: path parameters ${route.pathParams.join(', ')} but documented ${documented(doc.path).join(', ')}`,
    );
  if (route.queryParams === null ? !doc.query : !sameSet(route.queryParams, documented(doc.query)))
    out.push(
      `${where}: query parameters ${route.queryParams?.join(', ') ?? '(all read by the handler)'} but documented ${documented(doc.query).join(', ')}`,
    );
  const headers = documented(doc.headers).map((h) => h.toLowerCase());
  if (!sameSet(route.headerParams, headers))
    out.push(`${where}: header parameters ${route.headerParams.join(', ')} but documented ${headers.join(', ')}`);
  if (route.body && !REQUEST_BODIES.has(route.body))
    out.push(`${where}: body class ${route.body.name} has no schema in REQUEST_BODIES`);
  if (!Object.keys(doc.responses).some((s) => Number(s) < 300)) out.push(`${where}: no 2xx answer documented`);
  return out;
}

function parameters(route: ScannedRoute, doc: OperationDoc): JsonSchema[] {
  const param =
    (place: string, required: boolean) =>
    ([name, p]: [string, ParamDoc]) => ({
      name,
      in: place,
      required,
      description: p.description,
      schema: p.schema,
    });
  return [
    ...Object.entries(doc.path ?? {}).map(param('path', true)),
    ...Object.entries(doc.query ?? {}).map(param('query', false)),
    ...Object.entries(doc.headers ?? {}).map(param('header', false)),
  ];
}

function response(r: ResponseDoc): JsonSchema {
  return {
    description: r.description,
    ...(r.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(r.headers).map(([n, h]) => [
              n,
              { description: h.description, ...(h.required ? { required: true } : {}), schema: h.schema },
            ]),
          ),
        }
      : {}),
    ...(r.content ? { content: r.content } : {}),
  };
}

/** The error statuses every route of its kind answers: 400 (query) always; 401, 403, 429, 503 behind a token; 413, 415 with a body. */
function sharedErrorStatuses(route: ScannedRoute): number[] {
  return [400, ...(route.isPublic ? [] : [401, 403, 429, 503]), ...(route.body ? [413, 415] : [])];
}

function operation(route: ScannedRoute, doc: OperationDoc): JsonSchema {
  const access = route.isPublic ? 'Public: no token needed.' : `Needs a \`${route.role}\` token or above.`;
  const responses: Record<string, JsonSchema> = {};
  const errors = new Set([...sharedErrorStatuses(route), ...(doc.errors ?? [])]);
  const statuses = [...new Set([...Object.keys(doc.responses).map(Number), ...errors])].sort((a, b) => a - b);
  for (const status of statuses) {
    const own = doc.responses[status];
    if (own) responses[status] = response(own);
    else if (SHARED_ERRORS[status])
      responses[status] = { $ref: `#/components/responses/${SHARED_ERRORS[status].name}` };
    else throw new Error(`${route.key}: status ${status} has no shared answer; document it in the operation`);
  }
  const segments = route.path.split('/').filter(Boolean);
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    description: [doc.description, access].filter(Boolean).join('\n\n'),
    tags: [(segments[0] === 'v1' ? segments[1] : segments[0]).replace(/\..*$/, '')],
    ...(route.pathParams.length || doc.query || doc.headers ? { parameters: parameters(route, doc) } : {}),
    ...(route.body ? { requestBody: { required: true, content: json(ref(REQUEST_BODIES.get(route.body)!)) } } : {}),
    ...(doc.rawBody ? { requestBody: { required: true, content: doc.rawBody } } : {}),
    responses,
    security: route.isPublic ? [] : [{ bearer: [] }],
    ...(route.role ? { 'x-warren-role': route.role } : {}),
  };
}

/**
 * The OpenAPI 3.1 document of the routes of `controllers` (the controller's, as Nest registers
 * them): each route from its metadata, documented by {@link OPERATIONS}, its schemas from
 * {@link COMPONENT_SCHEMAS}. Throws, naming each, when a route has no documentation or its
 * parameters or body differ from it, or documentation names a route no controller has: so a route
 * cannot be added, renamed or removed without the document following.
 */
export function buildOpenApiDocument(
  controllers: readonly Type[],
  table: OperationTable = OPERATIONS,
): OpenApiDocument {
  const routes = scanRoutes(controllers);
  const problems: string[] = [];
  const keys = new Set(routes.map((r) => r.key));
  for (const r of routes) {
    const doc = table[r.key];
    if (!doc) problems.push(`${r.key} (${r.controller.name}.${r.handler}) is not documented in the operations table`);
    else problems.push(...mismatches(r, doc));
  }
  for (const key of Object.keys(table))
    if (!keys.has(key)) problems.push(`${key} is documented but no controller has it`);
  if (problems.length) throw new Error(`the OpenAPI document does not match the routes:\n- ${problems.join('\n- ')}`);

  const paths: OpenApiDocument['paths'] = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method] = operation(r, table[r.key]);
  return {
    openapi: OPENAPI_VERSION,
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    info: {
      title: 'Warren controller HTTP API',
      version: WARREN_VERSION,
      description:
        'Run a shell command on many hosts over RabbitMQ: the controller API the `warren` CLI uses. ' +
        'JSON in, JSON out; times are ISO-8601 (UTC), durations whole ms. Generated from the code ' +
        '(`warren-controller openapi`); prose: docs/api.md, docs/streaming.md.',
    },
    security: [{ bearer: [] }],
    paths,
    components: {
      schemas: COMPONENT_SCHEMAS,
      responses: Object.fromEntries(Object.values(SHARED_ERRORS).map((e) => [e.name, response(e.response)])),
      securitySchemes: { bearer: BEARER_SCHEME },
    },
  };
}
