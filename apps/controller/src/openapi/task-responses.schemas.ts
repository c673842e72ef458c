import type {
  DryRunAnswer,
  ExcludedHost,
  HostResult,
  OutputBytes,
  TaskAccepted,
  TaskCancelled,
  TaskHead,
  TaskList,
  TaskSummary,
  TaskView,
} from '@warren/api';
import { INVOCATION_STATES } from '@warren/protocol';
import {
  arrayOf,
  bool,
  int,
  isoTime,
  type JsonSchema,
  nullable,
  objectSchema,
  oneOfValues,
  ref,
  str,
} from './json-schema';

const count = (description?: string) => int(description, { minimum: 0 });
const rollingLimit = (description: string) => nullable(int(description, { minimum: 0 }));

/** {@link HostResult}: one host's result, in `TaskView.results` and as a `result` event. */
export const hostResultSchema = objectSchema<HostResult>()({
  properties: {
    host: str(),
    invocationId: str(),
    state: ref('InvocationState'),
    exitCode: nullable(int('null when killed by a signal or never started')),
    signal: nullable(str('e.g. `SIGKILL`; null unless killed by a signal')),
    stdout: str('the kept output as text (invalid UTF-8 as U+FFFD); exact bytes at `.../results/{host}/stdout`'),
    stderr: str('as `stdout`'),
    stdoutBytes: count('bytes the command wrote in all'),
    stderrBytes: count('bytes the command wrote in all'),
    stdoutTruncated: bool(),
    stderrTruncated: bool(),
    stdoutUtf8: nullable(bool('whether the kept bytes are UTF-8; null: unknown (an older agent)')),
    stderrUtf8: nullable(bool('as `stdoutUtf8`')),
    reason: nullable(str('why it was rejected, errored, timed out, …')),
    rejectCode: nullable(ref('RejectCode')),
    startedAt: nullable(isoTime()),
    finishedAt: nullable(isoTime()),
    durationMs: nullable(count('ms; null when it never started')),
    file: nullable(ref('HostFile')),
  },
  required: [
    'host',
    'invocationId',
    'state',
    'exitCode',
    'signal',
    'stdout',
    'stderr',
    'stdoutBytes',
    'stderrBytes',
    'stdoutTruncated',
    'stderrTruncated',
    'stdoutUtf8',
    'stderrUtf8',
    'reason',
    'rejectCode',
    'startedAt',
    'finishedAt',
    'durationMs',
    'file',
  ],
});

/** {@link TaskSummary}: invocation counts of a task. */
export const taskSummarySchema = objectSchema<TaskSummary>()({
  properties: {
    total: count('hosts of the task'),
    byState: {
      type: 'object',
      propertyNames: { enum: [...INVOCATION_STATES] },
      additionalProperties: count(),
      description: 'invocations by state; states with none are left out',
    },
  },
  required: ['total', 'byState'],
});

const taskHeadProperties: { readonly [K in keyof TaskHead]-?: JsonSchema } = {
  id: str(),
  command: str('the shell command; for a put or get, a description of it (`put /etc/motd`)'),
  transfer: nullable(ref('TaskTransferView')),
  stdin: nullable(ref('TaskStdinView')),
  cwd: nullable(str()),
  envNames: arrayOf(str(), 'names of the env variables set; never their values'),
  runAs: nullable(str()),
  createdBy: nullable(str('the token (or local user) that created it')),
  state: ref('TaskState'),
  timeoutMs: count('ms'),
  deliveryTimeoutMs: count('ms'),
  killGraceMs: count('ms'),
  concurrency: rollingLimit('rolling limit as a count; null: none'),
  maxErrors: rollingLimit('rolling limit as a count; null: none'),
  rerunOf: nullable(str('the task this one re-runs hosts of')),
  live: bool('false: sent with `live: false`'),
  createdAt: isoTime(),
  finishedAt: nullable(isoTime('null while running')),
  summary: ref('TaskSummary'),
};
const taskHeadRequired = [
  'id',
  'command',
  'transfer',
  'stdin',
  'cwd',
  'envNames',
  'runAs',
  'createdBy',
  'state',
  'timeoutMs',
  'deliveryTimeoutMs',
  'killGraceMs',
  'concurrency',
  'maxErrors',
  'rerunOf',
  'live',
  'createdAt',
  'finishedAt',
  'summary',
] as const;

const excludedHostSchema = objectSchema<ExcludedHost>()({
  properties: { host: str(), reason: oneOfValues(['offline', 'key not accepted']) },
  required: ['host', 'reason'],
});

/** The task schemas (answers) by component name. */
export const TASK_RESPONSE_SCHEMAS: Record<string, JsonSchema> = {
  ExcludedHost: excludedHostSchema,
  TaskAccepted: objectSchema<TaskAccepted>()({
    description: 'The broker has the commands.',
    properties: {
      id: str(),
      hosts: arrayOf(str(), "the task's hosts, in order"),
      state: ref('TaskState'),
      concurrency: rollingLimit('rolling limit as a count; null: none'),
      maxErrors: rollingLimit('rolling limit as a count; null: none'),
      rerunOf: str('for a re-run: the task it re-runs'),
      excluded: arrayOf(ref('ExcludedHost'), 'known hosts a glob, label or `all` matched but left out'),
      unmatched: arrayOf(str(), 'globs that matched no usable host'),
    },
    required: ['id', 'hosts', 'state', 'concurrency', 'maxErrors'],
  }),
  DryRunAnswer: objectSchema<DryRunAnswer>()({
    description: 'What the target resolves to; nothing stored or sent.',
    properties: {
      dryRun: { const: true },
      hosts: arrayOf(str()),
      count: count('`hosts.length`'),
      folded: str('the hosts in short form: `db1,web[01-40]`'),
      excluded: arrayOf(ref('ExcludedHost')),
      unmatched: arrayOf(str()),
      concurrency: rollingLimit('rolling limit as a count; null: none'),
      maxErrors: rollingLimit('rolling limit as a count; null: none'),
    },
    required: ['dryRun', 'hosts', 'count', 'folded', 'excluded', 'unmatched', 'concurrency', 'maxErrors'],
  }),
  TaskSummary: taskSummarySchema,
  HostResult: hostResultSchema,
  TaskHead: objectSchema<TaskHead>()({ properties: taskHeadProperties, required: taskHeadRequired }),
  TaskView: objectSchema<TaskView>()({
    description: 'The whole task; `results` in natural order of host.',
    properties: { ...taskHeadProperties, results: arrayOf(ref('HostResult')) },
    required: [...taskHeadRequired, 'results'],
  }),
  TaskList: objectSchema<TaskList>()({
    properties: { tasks: arrayOf(ref('TaskHead'), 'newest first') },
    required: ['tasks'],
  }),
  TaskCancelled: objectSchema<TaskCancelled>()({
    properties: {
      id: str(),
      cancelled: arrayOf(str(), 'hosts whose command had not started: cancelled, never to run'),
      killing: arrayOf(str(), 'hosts whose running command is being killed'),
      state: ref('TaskState'),
    },
    required: ['id', 'cancelled', 'killing', 'state'],
  }),
  OutputBytes: objectSchema<OutputBytes>()({
    properties: {
      host: str(),
      stream: oneOfValues(['stdout', 'stderr']),
      state: ref('InvocationState'),
      encoding: { const: 'base64' },
      data: str('base64 (RFC 4648 §4) of the kept bytes, exactly', { contentEncoding: 'base64' }),
      utf8: nullable(bool('whether they are UTF-8; null: unknown')),
      totalBytes: count('bytes the command wrote to the stream in all'),
      truncated: bool('true when `totalBytes` exceeds the kept bytes'),
    },
    required: ['host', 'stream', 'state', 'encoding', 'data', 'utf8', 'totalBytes', 'truncated'],
  }),
};
