import type {
  ApiErrorBody,
  AuditList,
  CompletedEventData,
  CreateTaskRequest,
  DryRunAnswer,
  Health,
  Whoami,
  HostAccepted,
  HostKeyList,
  HostList,
  HostRejected,
  HostResult,
  OutputBytes,
  OutputEventData,
  RerunRequest,
  StartedEventData,
  TaskAccepted,
  TaskCancelled,
  TaskList,
  TaskView,
  FileUploaded,
} from '@warren/api';
import { getMetadataStorage } from 'class-validator';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { OpenApiValidator, problemsOf } from '../../../../test/support/openapi-validator';
import { AppModule } from '../app.module';
import { parseControllerArgs } from '../config/controller.config';
import { objectSchema, str } from './json-schema';
import { buildOpenApiDocument, COMPONENT_SCHEMAS, REQUEST_BODIES } from './openapi.document';
import { controllersOf } from './routes.scan';

const { config } = parseControllerArgs(['--state-dir', '/nonexistent'], {});
const doc = buildOpenApiDocument(controllersOf(AppModule.forRoot(config, pino({ level: 'silent' }))));
const v = new OpenApiValidator(doc as never);

const at = '2026-01-31T12:00:00.000Z';
const result: HostResult = {
  host: 'web1',
  invocationId: 'i_1',
  state: 'succeeded',
  exitCode: 0,
  signal: null,
  stdout: 'hi\n',
  stderr: '',
  stdoutBytes: 3,
  stderrBytes: 0,
  stdoutTruncated: false,
  stderrTruncated: false,
  stdoutUtf8: true,
  stderrUtf8: null,
  reason: null,
  rejectCode: null,
  startedAt: at,
  finishedAt: at,
  durationMs: 12,
  file: { sha256: 'a'.repeat(64), size: 5, changed: true },
};
const summary = { total: 1, byState: { succeeded: 1 } };
const task: TaskView = {
  id: 't_1',
  command: 'echo hi',
  transfer: null,
  stdin: { file: 'b'.repeat(64), size: 9 },
  cwd: null,
  envNames: ['A'],
  runAs: null,
  createdBy: 'alice',
  state: 'completed',
  timeoutMs: 60_000,
  deliveryTimeoutMs: 60_000,
  killGraceMs: 5_000,
  concurrency: 2,
  maxErrors: null,
  rerunOf: null,
  live: true,
  createdAt: at,
  finishedAt: at,
  summary,
  results: [result],
};
const { results: _results, ...head } = task;

/**
 * One value of each contract type, typed by it (so it compiles only while it is one), by the
 * component that describes it: each schema must take it.
 */
const SAMPLES: Record<string, unknown> = {
  TaskView: task,
  TaskList: {
    tasks: [
      head,
      {
        ...head,
        command: 'put /etc/motd',
        stdin: null,
        transfer: {
          op: 'put',
          file: 'c'.repeat(64),
          name: 'motd',
          size: 5,
          dest: '/etc/motd',
          mode: '0644',
          owner: null,
          group: null,
          mkdir: false,
        },
      },
      { ...head, command: 'get /x', stdin: null, transfer: { op: 'get', path: '/x', maxBytes: 10 } },
    ],
  } satisfies TaskList,
  FileUploaded: {
    sha256: 'd'.repeat(64),
    size: 1_048_577,
    name: null,
    chunks: 3,
    createdAt: at,
  } satisfies FileUploaded,
  TaskAccepted: {
    id: 't_1',
    hosts: ['web1'],
    state: 'running',
    concurrency: null,
    maxErrors: null,
  } satisfies TaskAccepted,
  DryRunAnswer: {
    dryRun: true,
    hosts: ['web1'],
    count: 1,
    folded: 'web1',
    excluded: [{ host: 'web2', reason: 'offline' }],
    unmatched: ['db*'],
    concurrency: 1,
    maxErrors: 0,
  } satisfies DryRunAnswer,
  TaskCancelled: { id: 't_1', cancelled: ['web1'], killing: [], state: 'cancelled' } satisfies TaskCancelled,
  OutputBytes: {
    host: 'web1',
    stream: 'stdout',
    state: 'succeeded',
    encoding: 'base64',
    data: 'aGkK',
    utf8: true,
    totalBytes: 3,
    truncated: false,
  } satisfies OutputBytes,
  HostList: {
    hosts: [
      {
        host: 'web1',
        status: 'online',
        labels: { zone: 'eu' },
        pendingLabels: null,
        version: '0.1.0',
        running: 0,
        concurrency: 8,
        lastSeen: at,
        trust: 'accepted',
        keyId: 'SHA256:x',
        pendingKeyIds: [],
      },
    ],
  } satisfies HostList,
  HostKeyList: {
    keys: [
      {
        host: 'web1',
        keyId: 'SHA256:x',
        status: 'pre-accepted',
        firstSeen: null,
        lastSeen: null,
        labels: {},
        acceptedLabels: null,
      },
    ],
  } satisfies HostKeyList,
  HostAccepted: {
    host: 'web1',
    keyId: 'SHA256:x',
    replaced: null,
    labels: {},
    accepted: 'key',
    trust: 'accepted',
  } satisfies HostAccepted,
  HostRejected: { host: 'web1', keyId: 'SHA256:x', preAccepted: false } satisfies HostRejected,
  AuditList: {
    records: [
      {
        id: 1,
        at,
        actor: 'alice',
        source: '10.0.0.7',
        action: 'task.create',
        decision: 'allowed',
        reason: null,
        taskId: 't_1',
        hosts: ['web1'],
        command: 'uptime',
        cwd: null,
        envNames: [],
        runAs: null,
        invocationId: null,
        detail: null,
        count: 1,
        outcome: { web1: 'succeeded' },
      },
    ],
  } satisfies AuditList,
  Health: { status: 'ok', broker: 'connected', database: 'ok' } satisfies Health,
  Whoami: { name: 'alice', role: 'operator', hostPatterns: ['web*'] } satisfies Whoami,
  ApiErrorBody: { statusCode: 400, error: 'Bad Request', message: ['command must be a string'] } satisfies ApiErrorBody,
  StartedEventData: { host: 'web1', invocationId: 'i_1', startedAt: null } satisfies StartedEventData,
  OutputEventData: {
    host: 'web1',
    invocationId: 'i_1',
    stream: 'stderr',
    seq: 0,
    offset: 0,
    data: 'x',
  } satisfies OutputEventData,
  CompletedEventData: { taskId: 't_1', state: 'completed', finishedAt: at, summary } satisfies CompletedEventData,
  CreateTaskRequest: {
    command: 'uptime',
    hosts: ['web[01-20]', 'db*'],
    labels: ['zone=eu'],
    concurrency: '25%',
    maxErrors: 1,
    timeoutMs: 1000,
    env: { A: '1' },
    cwd: '/srv',
    runAs: 'deploy',
    live: false,
    wait: true,
  } satisfies CreateTaskRequest,
  RerunRequest: { only: ['failed', 'timed_out'], concurrency: 2, wait: false } satisfies RerunRequest,
};

describe('the schemas of the OpenAPI document', () => {
  it.each(Object.keys(SAMPLES))('%s takes a value of its contract type', (name) => {
    const validate = v.schema(name);
    expect(validate(SAMPLES[name]), problemsOf(validate)).toBe(true);
  });

  it.each(Object.keys(SAMPLES).filter((n) => (COMPONENT_SCHEMAS[n] as { required?: string[] }).required?.length))(
    '%s refuses a field the contract does not have, and one it requires left out',
    (name) => {
      const sample = SAMPLES[name] as Record<string, unknown>;
      expect(v.schema(name)({ ...sample, surprise: 1 })).toBe(false);
      const [first] = (COMPONENT_SCHEMAS[name] as { required: string[] }).required;
      const { [first]: _gone, ...less } = sample;
      expect(v.schema(name)(less)).toBe(false);
    },
  );

  it('refuses a value of the wrong type: a state no invocation has, a count as text', () => {
    expect(v.schema('HostResult')({ ...result, state: 'exploded' })).toBe(false);
    expect(v.schema('HostResult')({ ...result, stdoutBytes: '3' })).toBe(false);
    expect(v.schema('TaskAccepted')({ ...(SAMPLES.TaskAccepted as object), concurrency: '2' })).toBe(false);
  });

  it('describes each request body by exactly the fields its DTO validates', () => {
    for (const [dto, name] of REQUEST_BODIES) {
      const validated = getMetadataStorage()
        .getTargetValidationMetadatas(dto, '', true, false)
        .map((m) => m.propertyName);
      const described = Object.keys((COMPONENT_SCHEMAS[name] as { properties: object }).properties);
      expect([...new Set(validated)].sort(), `${dto.name} vs ${name}`).toEqual(described.sort());
    }
  });

  it('ties each schema to its contract type at compile time', () => {
    // Each line fails to compile (and `tsc --noEmit` with it) unless the check it shows still works.
    // @ts-expect-error HostRejected has `preAccepted`, which this schema lacks
    objectSchema<HostRejected>()({ properties: { host: str(), keyId: str() }, required: ['host', 'keyId'] });
    objectSchema<HostRejected>()({
      // @ts-expect-error `extra` is not a field of HostRejected
      properties: { host: str(), keyId: str(), preAccepted: str(), extra: str() },
      required: ['host', 'keyId', 'preAccepted'],
    });
    // @ts-expect-error `preAccepted` is required in HostRejected but not in this list
    objectSchema<HostRejected>()({
      properties: { host: str(), keyId: str(), preAccepted: str() },
      required: ['host', 'keyId'],
    });
    // @ts-expect-error `keyId` is optional in AcceptHostRequest, so not required
    objectSchema<{ keyId?: string }>()({ properties: { keyId: str() }, required: ['keyId'] });
    expect(true).toBe(true);
  });
});
