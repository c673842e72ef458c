import { TASK_FILTER_MAX_CHARS } from '../tasks/task-list.query';
import { MAX_WAIT_MS } from '../tasks/task-reader.service';
import { OUTPUT_HEADERS } from '../tasks/task-results.controller';
import { TASK_EVENT_DATA } from './events.schemas';
import { int, ref, str } from './json-schema';
import { json, type OperationDoc, type OperationTable, type ParamDoc } from './operation-doc';

const taskId: ParamDoc = { description: 'the task id (`t_…`)', schema: str() };
const host: ParamDoc = { description: 'a host of the task', schema: str() };
const waited = (what: string) => ({
  description: `with \`wait: true\`: ${what} has completed; the whole task`,
  content: json(ref('TaskView')),
});

/** `GET /v1/tasks/{id}/results/{host}/stdout` and `stderr`: the same but for the stream. */
function outputBytes(stream: 'stdout' | 'stderr'): OperationDoc {
  return {
    operationId: `getTask${stream === 'stdout' ? 'Stdout' : 'Stderr'}`,
    summary: `One host's ${stream}, exactly as its command wrote it (up to the agent's cap)`,
    description:
      'The kept bytes as `application/octet-stream`, with what is known of them in `Warren-*` headers; ' +
      'with `?encoding=base64`, JSON instead (`OutputBytes`). Output is stored with the result: empty while `pending` or `running`.',
    path: { id: taskId, host },
    query: {
      encoding: {
        description: '`base64`: answer JSON with the bytes in base64; absent: the bytes themselves',
        schema: { type: 'string', enum: ['base64'] },
      },
    },
    responses: {
      200: {
        description: `the kept bytes of ${stream}`,
        content: {
          'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
          'application/json': { schema: ref('OutputBytes') },
        },
        headers: {
          [OUTPUT_HEADERS.state]: {
            description: "the invocation's state (octet-stream only)",
            schema: ref('InvocationState'),
          },
          [OUTPUT_HEADERS.utf8]: {
            description: 'whether the bytes are UTF-8 (octet-stream only)',
            schema: { type: 'string', enum: ['true', 'false', 'unknown'] },
          },
          [OUTPUT_HEADERS.totalBytes]: {
            description: 'bytes the command wrote to the stream in all (octet-stream only)',
            schema: { type: 'string', pattern: '^[0-9]+$' },
          },
          [OUTPUT_HEADERS.truncated]: {
            description: 'true when that is more than the body holds (octet-stream only)',
            schema: { type: 'string', enum: ['true', 'false'] },
          },
        },
      },
    },
    errors: [404],
  };
}

/** The routes under `/v1/tasks`. */
export const TASK_OPERATIONS: OperationTable = {
  'POST /v1/tasks': {
    operationId: 'createTask',
    summary: 'Run a command on hosts: names, ranges, globs, labels or all',
    description:
      '202 once the broker has the commands; with `wait`, 200 and the finished task; with `dryRun`, 200 and ' +
      'what the target resolves to (nothing stored or sent). 422 when the target matches no host, or more than ' +
      '10000. Audited (`task.create`). Details: docs/api.md, docs/targeting-and-rolling.md.',
    responses: {
      202: { description: 'the broker has the commands', content: json(ref('TaskAccepted')) },
      200: {
        description: 'with `wait: true`, the finished task; with `dryRun: true`, what the target resolves to',
        content: json({ oneOf: [ref('TaskView'), ref('DryRunAnswer')] }),
      },
    },
    errors: [422],
  },
  'GET /v1/tasks': {
    operationId: 'listTasks',
    summary: 'Recent tasks, newest first, without results; filtered and paged',
    description:
      'Filters combine (AND). Page on with `before` set to the last task of a page. A bad filter is a 400 naming it.',
    query: {
      limit: { description: 'tasks per answer (outside 1–1000: the nearest bound); default 20', schema: int() },
      state: { description: 'tasks in this state only', schema: ref('TaskState') },
      q: {
        description: 'tasks whose command contains this text, ignoring ASCII case',
        schema: str(undefined, { maxLength: TASK_FILTER_MAX_CHARS }),
      },
      createdBy: {
        description: 'tasks created by this token name (or `local:<user>`)',
        schema: str(undefined, { maxLength: TASK_FILTER_MAX_CHARS }),
      },
      since: { description: 'tasks created at or after: an ISO time or ms since the epoch', schema: str() },
      until: { description: 'tasks created before: an ISO time or ms since the epoch', schema: str() },
      before: {
        description: 'a task id: the tasks after it in this order (the next page); an unknown id lists none',
        schema: str(undefined, { maxLength: TASK_FILTER_MAX_CHARS }),
      },
    },
    responses: { 200: { description: 'the tasks', content: json(ref('TaskList')) } },
  },
  'GET /v1/tasks/{id}': {
    operationId: 'getTask',
    summary: 'One task with every host result',
    path: { id: taskId },
    query: {
      waitMs: {
        description: `ms; hold the answer until the task completes or this passes (at most ${MAX_WAIT_MS}); default 0`,
        schema: int(),
      },
    },
    responses: { 200: { description: 'the task', content: json(ref('TaskView')) } },
    errors: [404],
  },
  'POST /v1/tasks/{id}/rerun': {
    operationId: 'rerunTask',
    summary: 'The same command, as a new task, on the hosts of a task in some states',
    description: '422 when no host is in those states. Audited (`task.rerun`).',
    path: { id: taskId },
    responses: {
      202: { description: 'the broker has the commands of the new task', content: json(ref('TaskAccepted')) },
      200: waited('the new task'),
    },
    errors: [404, 422],
  },
  'POST /v1/tasks/{id}/cancel': {
    operationId: 'cancelTask',
    summary: 'Cancel a task, or some of its hosts',
    description:
      'Pending invocations become `cancelled` at once and never run; running ones are killed with everything ' +
      'they started. 422 for a host not in the task. Audited (`task.cancel`).',
    path: { id: taskId },
    responses: { 200: { description: 'what was cancelled', content: json(ref('TaskCancelled')) } },
    errors: [404, 422],
  },
  'GET /v1/tasks/{id}/events': {
    operationId: 'followTask',
    summary: "A task's progress as Server-Sent Events",
    description:
      'A `retry: 1000` line, then events `started`, `output`, `result`, then `completed`, after which the ' +
      'response ends. Each has an `id` (`<offset>-<k>`, the same on every controller: resume with ' +
      '`Last-Event-ID`), an `event` name and one `data:` line of JSON, whose schema per event name is in ' +
      '`x-warren-events`. A `: ping` comment comes every 15 s. Details: docs/streaming.md.',
    path: { id: taskId },
    headers: {
      'Last-Event-ID': {
        description: 'resume after this event: an `id` of this stream (`<offset>-<k>`); else 400',
        schema: str(),
      },
    },
    responses: {
      200: {
        description: 'the event stream',
        content: {
          'text/event-stream': {
            schema: { type: 'string', description: 'Server-Sent Events (WHATWG HTML §9.2)' },
            'x-warren-events': TASK_EVENT_DATA,
          },
        },
      },
      503: {
        description:
          'this controller already serves `--max-event-streams` streams (`TooManyEventStreamsError`; try ' +
          'another controller or later), or its database is unavailable',
        content: json(ref('ApiErrorBody')),
        headers: { 'Retry-After': { description: 's; when the stream cap is the cause', schema: str() } },
      },
    },
    errors: [404],
  },
  'GET /v1/tasks/{id}/results/{host}/stdout': outputBytes('stdout'),
  'GET /v1/tasks/{id}/results/{host}/stderr': outputBytes('stderr'),
};
