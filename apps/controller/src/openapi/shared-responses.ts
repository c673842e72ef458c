import { type JsonSchema, ref } from './json-schema';
import { json, type ParamDoc, type ResponseDoc } from './operation-doc';

/** Every error answer's content: the exception filter's `ApiErrorBody`, as JSON. */
const ERROR_BODY = json(ref('ApiErrorBody'));

const retryAfter: ParamDoc = {
  description: 's; when to try again (RFC 9110 §10.2.3)',
  required: true,
  schema: { type: 'string', pattern: '^[0-9]+$' },
};

/**
 * The error answers routes share, as `components.responses`, by status: every body is the one
 * exception filter's `ApiErrorBody` (apps/controller/src/errors/http-exception.filter.ts).
 */
export const SHARED_ERRORS: Record<number, { name: string; response: ResponseDoc }> = {
  400: {
    name: 'BadRequest',
    response: {
      description:
        'a body that is not a JSON object, a field or value the route does not take (`message` names each), ' +
        'a query parameter it does not take or given twice, a number that is not one, a bad header value',
      content: ERROR_BODY,
    },
  },
  401: {
    name: 'Unauthorized',
    response: {
      description: 'no `Authorization: Bearer <token>`, or an unknown or revoked token; `message` says how to get one',
      content: ERROR_BODY,
      headers: {
        'WWW-Authenticate': {
          description: '`Bearer realm="warren"` (RFC 6750 §3)',
          required: true,
          schema: { type: 'string', pattern: '^Bearer ' },
        },
      },
    },
  },
  403: {
    name: 'Forbidden',
    response: {
      description:
        "the token's role is below the route's, or a host is outside its host patterns (audited); `message` says which",
      content: ERROR_BODY,
    },
  },
  404: {
    name: 'NotFound',
    response: {
      description: 'no such task (`TaskNotFoundError`), or no such host in it (`HostNotInTaskError`)',
      content: ERROR_BODY,
    },
  },
  409: {
    name: 'Conflict',
    response: {
      description: 'nothing, or nothing unambiguous, to change (e.g. several pending keys and no `keyId`)',
      content: ERROR_BODY,
    },
  },
  413: {
    name: 'PayloadTooLarge',
    response: {
      description: 'a body larger than the controller reads (8 MiB); `message` gives the limit',
      content: ERROR_BODY,
    },
  },
  415: {
    name: 'UnsupportedMediaType',
    response: {
      description: 'a body that is not `application/json` in UTF-8, or in an unknown `Content-Encoding`',
      content: ERROR_BODY,
    },
  },
  422: {
    name: 'UnprocessableContent',
    response: {
      description: 'valid, but it cannot be carried out as asked (`UnprocessableTaskError`): `message` says why',
      content: ERROR_BODY,
    },
  },
  429: {
    name: 'TooManyRequests',
    response: {
      description:
        "too many failed authentications from the client's address: refused, a valid token too, until `Retry-After`",
      content: ERROR_BODY,
      headers: { 'Retry-After': retryAfter },
    },
  },
  503: {
    name: 'ServiceUnavailable',
    response: {
      description:
        'the database cannot be reached now (`DatabaseUnavailableError`: nothing was changed), or, for a new task, ' +
        'the broker (`BrokerUnavailableError`: nothing was sent)',
      content: ERROR_BODY,
    },
  },
};

/** `components.securitySchemes.bearer`: Warren's API tokens. */
export const BEARER_SCHEME: JsonSchema = {
  type: 'http',
  scheme: 'bearer',
  bearerFormat: 'wrn_<id>_<secret>',
  description:
    'An API token (`warren-controller token create --name <name> --role viewer|operator|admin`), sent as ' +
    '`Authorization: Bearer <token>` (RFC 6750). Each operation names its least role in `x-warren-role`; ' +
    'docs/security-api.md.',
};
