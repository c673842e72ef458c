import type { TaskState } from '@warren/protocol';
import type { HostResult, TaskSummary } from './tasks.contract';

/**
 * `GET /v1/tasks/:id/events` is a `text/event-stream`: each event has an `id` (`<offset>-<k>`, its
 * place in the controllers' events stream, the same on every controller; resumable with
 * `Last-Event-ID` on any of them), a name below, and one `data:` line of JSON. The stream ends
 * after `completed`; a comment line is sent every 15 s while idle.
 */
export type TaskEventName = 'started' | 'output' | 'result' | 'completed';

/** Data of a `started` event: a host began running the command. */
export interface StartedEventData {
  host: string;
  invocationId: string;
  /** ISO time; null when the agent did not say */
  startedAt: string | null;
}

/** Data of an `output` event: a piece of live output (never stored; the `result` carries it all). */
export interface OutputEventData {
  host: string;
  invocationId: string;
  stream: 'stdout' | 'stderr';
  /** per invocation and stream, from 0: a gap means a chunk was dropped */
  seq: number;
  /** byte offset of `data` in its stream's UTF-8 text */
  offset: number;
  data: string;
}

/** Data of a `result` event: the host's stored result, with its whole output. */
export type ResultEventData = HostResult;

/** Data of the `completed` event, the last one: the task reached a final state. */
export interface CompletedEventData {
  taskId: string;
  state: TaskState;
  /** ISO time */
  finishedAt: string | null;
  summary: TaskSummary;
}

/** Each event name's data. */
export interface TaskEventData {
  started: StartedEventData;
  output: OutputEventData;
  result: ResultEventData;
  completed: CompletedEventData;
}

/** The data of any task event. */
export type TaskEventPayload = TaskEventData[TaskEventName];
