import type { CreateTaskRequest, HostView, TaskAccepted, TaskHead, TaskView } from './api.types';
import { ApiError, ControllerUnreachableError } from './http.errors';
import { type HttpAnswer, type HttpCall, nodeHttpFetch } from './node-http.fetch';

/** ms; budget of an ordinary call (everything but a long poll) */
export const CALL_TIMEOUT_MS = 10_000;
/** ms; extra budget of a long poll beyond the `waitMs` the controller may hold it */
const LONG_POLL_SLACK_MS = 10_000;

/** A `fetch`-shaped transport; {@link nodeHttpFetch} by default, injectable for tests. */
export type FetchFn = (url: string, init: HttpCall) => Promise<HttpAnswer>;

/**
 * The controller's HTTP API over global `fetch`. Every failure leaves here as one of two typed
 * errors: {@link ControllerUnreachableError} (no usable answer) or {@link ApiError} (a non-2xx
 * answer), so callers never see a raw network error.
 */
export class ControllerClient {
  private readonly base: string;

  constructor(
    /** controller URL, e.g. `http://127.0.0.1:7070`; a path prefix is kept */
    readonly url: string,
    private readonly fetchFn: FetchFn = nodeHttpFetch,
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  /** `POST /v1/tasks` without waiting: the task id and its hosts. */
  createTask(body: CreateTaskRequest): Promise<TaskAccepted> {
    return this.call<TaskAccepted>('POST', '/v1/tasks', body);
  }

  /** `GET /v1/tasks/:id`; with `waitMs`, the controller holds the answer until the task completes or that passes. */
  getTask(id: string, waitMs = 0): Promise<TaskView> {
    const query = waitMs > 0 ? `?waitMs=${waitMs}` : '';
    return this.call<TaskView>('GET', `/v1/tasks/${encodeURIComponent(id)}${query}`, undefined, waitMs + (waitMs > 0 ? LONG_POLL_SLACK_MS : CALL_TIMEOUT_MS));
  }

  /** `GET /v1/tasks?limit=N`, newest first. */
  listTasks(limit: number): Promise<{ tasks: TaskHead[] }> {
    return this.call('GET', `/v1/tasks?limit=${limit}`);
  }

  /** `GET /v1/hosts`, sorted by host. */
  listHosts(): Promise<{ hosts: HostView[] }> {
    return this.call('GET', '/v1/hosts');
  }

  private async call<T>(method: string, path: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    let res: HttpAnswer;
    let text: string;
    try {
      res = await this.fetchFn(this.base + path, {
        method,
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw new ControllerUnreachableError(this.url, networkReason(err, timeoutMs));
    }
    const parsed = parseJson(text);
    if (!res.ok) throw new ApiError(this.url, res.status, apiMessages(parsed, res));
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
      throw new ControllerUnreachableError(this.url, `answered ${res.status} with a body that is not the controller's JSON (is this a Warren controller?)`);
    }
    return parsed as T;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The API's `message` (a string or an array of them), else the status line. */
function apiMessages(body: unknown, res: HttpAnswer): string[] {
  const message = (body as { message?: unknown } | undefined)?.message;
  if (Array.isArray(message) && message.length > 0) return message.map(String);
  if (typeof message === 'string' && message !== '') return [message];
  return [`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`];
}

/** One line saying why a request failed (a socket error, or fetch's undici error with its `cause`). */
export function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { message?: string }[] } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const cause = e?.cause;
  if (cause) {
    const inner = cause.errors?.find((x) => x?.message)?.message;
    const text = cause.message || inner || cause.code;
    // WHATWG fetch never connects to a few well-known ports (1, 9, 25, …): say so, not just "bad port".
    if (text === 'bad port') return 'fetch refuses to connect to this port (it is on the blocked-ports list)';
    if (text) return text;
  }
  return e?.message || String(err);
}
