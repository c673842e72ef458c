import type { CancelTaskRequest, CreateTaskRequest, RerunRequest } from '@warren/api';
import { LABEL_LIMITS } from '@warren/api';
import { LIMITS } from '@warren/protocol';
import { HOST_PATTERN_LENGTH, RUN_AS_PATTERN } from '../tasks/dto/create-task.dto';
import { RERUNNABLE_STATES } from '../tasks/dto/rerun-task.dto';
import { arrayOf, bool, int, type JsonSchema, objectSchema, oneOfValues, ref, str, stringMap } from './json-schema';

/** `5`, `"5"` or `"25%"` (docs/targeting-and-rolling.md); the exact rule is `parseLimit` of `@warren/api`. */
const limitSpec = (description: string): JsonSchema => ({
  description,
  oneOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]+%?$' },
  ],
});

/** {@link CreateTaskRequest}: the body of `POST /v1/tasks`. Sizes in UTF-8 bytes are checked beyond what a schema says (docs/api.md). */
export const createTaskRequestSchema = objectSchema<CreateTaskRequest>()({
  description:
    'One of `hosts`, `labels` or `all` is required, and exactly one of `command`, `put` or `get` (`stdin` only with `command`). Unknown fields are refused (400).',
  properties: {
    command: str('run on each host as `/bin/sh -c <command>`; at most 65536 bytes of UTF-8, no NUL', {
      minLength: 1,
    }),
    put: ref('PutRequest'),
    get: ref('GetRequest'),
    stdin: str(
      'SHA-256 of an uploaded file fed to the command on every host (`warren run --stdin`); only with `command`',
      {
        pattern: '^[0-9a-f]{64}$',
      },
    ),
    hosts: arrayOf(
      str(undefined, { minLength: 1, maxLength: HOST_PATTERN_LENGTH, pattern: '^[A-Za-z0-9._*?,\\[\\]-]+$' }),
      'host names, ranges (`web[01-20]`) and globs (`web*`, matched among online hosts)',
      { minItems: 1, maxItems: LIMITS.hostsPerTask },
    ),
    labels: {
      description: '`{"zone": "eu"}` or `["zone=eu"]`: every pair must hold on a host (AND)',
      oneOf: [
        stringMap(undefined, { maxProperties: LABEL_LIMITS.pairs }),
        arrayOf(str('key=value'), undefined, { maxItems: LABEL_LIMITS.pairs }),
      ],
    },
    all: bool('every online host with an accepted key (narrowed by `labels`); not with `hosts`'),
    dryRun: bool('resolve the target and answer 200 `DryRunAnswer`; nothing is stored or sent'),
    concurrency: limitSpec('rolling run: at most this many hosts (`5`) or this share of them (`"25%"`) at once'),
    maxErrors: limitSpec(
      'rolling run: once more than this many (`1`, `"10%"`) did not succeed, the rest are skipped; needs `concurrency`',
    ),
    timeoutMs: int('ms; execution timeout, enforced by the agent; default 60000', {
      minimum: 1,
      maximum: LIMITS.maxTimeoutMs,
    }),
    deliveryTimeoutMs: int('ms; how long a command may wait for its agent; default 60000', {
      minimum: 1,
      maximum: LIMITS.maxDeliveryTimeoutMs,
    }),
    killGraceMs: int('ms; SIGTERM → SIGKILL grace; 0 kills at once; default 5000', {
      minimum: 0,
      maximum: LIMITS.maxKillGraceMs,
    }),
    env: stringMap('variables set for the command: names `[A-Za-z_][A-Za-z0-9_]*`', {
      maxProperties: LIMITS.envCount,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    }),
    cwd: str('absolute working directory on each host', { pattern: '^/' }),
    runAs: str('user the agents run the command as (their policy decides which are allowed)', {
      pattern: RUN_AS_PATTERN.source,
    }),
    live: bool('false: no live output (no `output` events), only each host result; default true'),
    wait: bool('hold the request until the task completes: 200 and the `TaskView`'),
  },
  required: [],
});

/** {@link RerunRequest}: the body of `POST /v1/tasks/{id}/rerun`. */
export const rerunRequestSchema = objectSchema<RerunRequest>()({
  properties: {
    only: arrayOf(oneOfValues(RERUNNABLE_STATES), 'finished states to pick hosts by; default all but `succeeded`', {
      minItems: 1,
      maxItems: RERUNNABLE_STATES.length,
    }),
    concurrency: limitSpec("as in `CreateTaskRequest`; default the original task's"),
    maxErrors: limitSpec("as in `CreateTaskRequest`; default the original task's"),
    wait: bool('hold the request until the new task completes'),
  },
  required: [],
});

/** {@link CancelTaskRequest}: the body of `POST /v1/tasks/{id}/cancel`. */
export const cancelTaskRequestSchema = objectSchema<CancelTaskRequest>()({
  properties: {
    hosts: arrayOf(str(), 'cancel on these hosts only; default every host of the task', {
      maxItems: LIMITS.hostsPerTask,
    }),
  },
  required: [],
});
