import type { ApiErrorBody, Health, Whoami } from '@warren/api';
import { INVOCATION_STATES, REJECT_CODES, TASK_STATES } from '@warren/protocol';
import { arrayOf, int, type JsonSchema, nullable, objectSchema, oneOfValues, str } from './json-schema';

/** The state names of `@warren/protocol`, as schemas; each is a component so clients get one enum. */
export const STATE_SCHEMAS: Record<string, JsonSchema> = {
  InvocationState: oneOfValues(INVOCATION_STATES, 'one command on one host (README, "States of one invocation")'),
  TaskState: oneOfValues(TASK_STATES, '`running` until every invocation is terminal'),
  RejectCode: oneOfValues(REJECT_CODES, "the agent's machine-readable reason for a rejection"),
};

/** {@link ApiErrorBody}: the body of every non-2xx answer, from the one exception filter. */
export const apiErrorBodySchema = objectSchema<ApiErrorBody>()({
  description: 'The body of every error answer (apps/controller/src/errors/http-exception.filter.ts).',
  properties: {
    statusCode: int('the HTTP status again', { minimum: 400, maximum: 599 }),
    error: str('the kind of refusal: `Bad Request`, `TaskNotFoundError`, …'),
    message: {
      description: 'what is wrong; for a 400 from body validation, one string per bad field',
      oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
  },
  required: ['statusCode', 'message'],
});

/** {@link Whoami}: `GET /v1/whoami`. */
export const whoamiSchema = objectSchema<Whoami>()({
  properties: {
    name: str("the token's name, the audit log's actor"),
    role: oneOfValues(['viewer', 'operator', 'admin']),
    hostPatterns: nullable(arrayOf(str(), 'the host patterns the token is limited to; null: every host')),
  },
  required: ['name', 'role', 'hostPatterns'],
});

/** {@link Health}: `GET /healthz`. */
export const healthSchema = objectSchema<Health>()({
  properties: {
    status: oneOfValues(['ok', 'degraded']),
    broker: oneOfValues(['connected', 'disconnected']),
    database: oneOfValues(['ok', 'unavailable'], "whether the controller's database answered a trivial query just now"),
  },
  required: ['status', 'broker', 'database'],
});
