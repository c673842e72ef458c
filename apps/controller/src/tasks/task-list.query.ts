import { TASK_STATES, type TaskState } from '@warren/protocol';
import { BadQueryError } from '../errors/errors';
import type { TaskListFilter } from '../store/task-list.filter';

/** characters at most of a text filter (`q`, `createdBy`, `before`) */
export const TASK_FILTER_MAX_CHARS = 200;

/** The query parameters of `GET /v1/tasks` that narrow the list, as they come off the URL. */
export interface TaskListParams {
  state?: string;
  q?: string;
  createdBy?: string;
  since?: string;
  until?: string;
  before?: string;
}

/** An ISO time or ms since the epoch, as ms; throws naming `name`. */
function timeOf(name: string, text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new BadQueryError(`${name} must be an ISO time (2026-01-31T12:00:00Z) or ms since the epoch`);
  return ms;
}

/** Reads the filters of `GET /v1/tasks`; throws {@link BadQueryError} (400) naming each bad one. */
export function parseTaskListParams(p: TaskListParams): TaskListFilter {
  const problems: string[] = [];
  const filter: TaskListFilter = {};
  for (const name of ['q', 'createdBy', 'before'] as const) {
    const v = p[name];
    if (v === undefined) continue;
    if (v === '' || v.length > TASK_FILTER_MAX_CHARS)
      problems.push(`${name} must have 1 to ${TASK_FILTER_MAX_CHARS} characters`);
    else filter[name] = v;
  }
  if (p.state !== undefined) {
    if ((TASK_STATES as readonly string[]).includes(p.state)) filter.state = p.state as TaskState;
    else problems.push(`state must be one of ${TASK_STATES.join(', ')}`);
  }
  for (const name of ['since', 'until'] as const) {
    const v = p[name];
    if (v === undefined) continue;
    try {
      filter[name] = timeOf(name, v);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length) throw new BadQueryError(problems.join('; '));
  return filter;
}
