import type { CompletedEventData, OutputEventData, StartedEventData, TaskEventName } from '@warren/api';
import { int, isoTime, type JsonSchema, nullable, objectSchema, oneOfValues, ref, str } from './json-schema';

/** The data schemas of the events of `GET /v1/tasks/{id}/events` (docs/streaming.md), by component name. */
export const EVENT_SCHEMAS: Record<string, JsonSchema> = {
  StartedEventData: objectSchema<StartedEventData>()({
    description: 'A host began running the command.',
    properties: {
      host: str(),
      invocationId: str(),
      startedAt: nullable(isoTime('null when the agent did not say')),
    },
    required: ['host', 'invocationId', 'startedAt'],
  }),
  OutputEventData: objectSchema<OutputEventData>()({
    description: 'A piece of live output (best effort; the `result` carries it all).',
    properties: {
      host: str(),
      invocationId: str(),
      stream: oneOfValues(['stdout', 'stderr']),
      seq: int('per invocation and stream, from 0: a gap means a chunk was dropped', { minimum: 0 }),
      offset: int("byte offset of `data` in its stream's UTF-8 text", { minimum: 0 }),
      data: str(),
    },
    required: ['host', 'invocationId', 'stream', 'seq', 'offset', 'data'],
  }),
  CompletedEventData: objectSchema<CompletedEventData>()({
    description: 'The last event: the task reached a final state; the response ends after it.',
    properties: {
      taskId: str(),
      state: ref('TaskState'),
      finishedAt: nullable(isoTime()),
      summary: ref('TaskSummary'),
    },
    required: ['taskId', 'state', 'finishedAt', 'summary'],
  }),
};

/** Each event name's data schema: `x-warren-events` of the event stream's media type. */
export const TASK_EVENT_DATA: { readonly [E in TaskEventName]: JsonSchema } = {
  started: ref('StartedEventData'),
  output: ref('OutputEventData'),
  result: ref('HostResult'),
  completed: ref('CompletedEventData'),
};
