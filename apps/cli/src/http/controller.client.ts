import type {
  AuditQueryParams,
  AuditList,
  CreateTaskRequest,
  DryRunAnswer,
  HostAccepted,
  HostKeyList,
  HostRejected,
  RerunRequest,
  HostList,
  HostResult,
  OutputStream,
  TaskAccepted,
  TaskCancelled,
  TaskList,
  TaskView,
} from '@warren/api';
import type { Readable, Writable } from 'node:stream';
import { ApiError, ControllerUnreachableError } from './http.errors';
import { type HttpAnswer, type HttpCall, nodeHttpFetch } from './node-http.fetch';
import { openEventStream, SSE_IDLE_TIMEOUT_MS } from './sse.client';
import { type ClientTls, tlsReason } from './transport';
import type { SseEvent } from './sse.parser';

/** One host's output stream, exactly, as `warren check --stdout` writes it. */
export interface HostOutput {
  /** the kept bytes, exactly */
  bytes: Buffer;
  /** the invocation's state (output is stored with the result: none while it runs) */
  state: HostResult['state'];
  /** whether they are UTF-8; null: unknown (the host's agent predates exact output capture) */
  utf8: boolean | null;
  /** bytes the command wrote to the stream in all */
  totalBytes: number;
  /** true when the command wrote more than the kept bytes */
  truncated: boolean;
}

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
    /** API token sent as `Authorization: Bearer …`; null sends none (the controller answers 401) */
    private readonly token: string | null = null,
    /** TLS settings for an https:// controller (`--ca`) */
    private readonly tls: ClientTls = {},
  ) {
    this.base = url.replace(/\/+$/, '');
  }

  /** `POST /v1/tasks` without waiting: the task id and its hosts. */
  createTask(body: CreateTaskRequest): Promise<TaskAccepted> {
    return this.call<TaskAccepted>('POST', '/v1/tasks', body);
  }

  /** `POST /v1/tasks` with `dryRun`: the hosts the target resolves to; nothing is stored or sent. */
  previewTask(body: CreateTaskRequest): Promise<DryRunAnswer> {
    return this.call<DryRunAnswer>('POST', '/v1/tasks', { ...body, dryRun: true });
  }

  /** `POST /v1/tasks/:id/rerun` (operator): the same command on the task's hosts in some states, as a new task. */
  rerunTask(id: string, body: RerunRequest): Promise<TaskAccepted> {
    return this.call<TaskAccepted>('POST', `/v1/tasks/${encodeURIComponent(id)}/rerun`, body);
  }

  /** `GET /v1/tasks/:id`; with `waitMs`, the controller holds the answer until the task completes or that passes. */
  getTask(id: string, waitMs = 0): Promise<TaskView> {
    const query = waitMs > 0 ? `?waitMs=${waitMs}` : '';
    return this.call<TaskView>(
      'GET',
      `/v1/tasks/${encodeURIComponent(id)}${query}`,
      undefined,
      waitMs + (waitMs > 0 ? LONG_POLL_SLACK_MS : CALL_TIMEOUT_MS),
    );
  }

  /**
   * `GET /v1/tasks/:id/events` (Server-Sent Events, resumed after `lastEventId` if given): calls
   * `onEvent` for each event; resolves when the controller ends the stream (after `completed`).
   */
  streamTaskEvents(id: string, lastEventId: string | undefined, onEvent: (e: SseEvent) => void): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    return openEventStream(
      `${this.base}/v1/tasks/${encodeURIComponent(id)}/events`,
      headers,
      onEvent,
      {
        refused: (status, statusText, body, retryAfterSec) =>
          new ApiError(
            this.url,
            status,
            apiMessages(parseJson(body), { status, statusText }),
            this.token !== null,
            retryAfterSec,
          ),
        unreachable: (err) =>
          new ControllerUnreachableError(this.url, networkReason(err, SSE_IDLE_TIMEOUT_MS, this.url)),
      },
      SSE_IDLE_TIMEOUT_MS,
      this.tls,
    );
  }

  /**
   * `GET /v1/tasks/:id/results/:host/stdout` (or `stderr`): the stream's kept bytes exactly, and
   * what the `Warren-*` headers say of them.
   */
  async getOutput(id: string, host: string, stream: OutputStream): Promise<HostOutput> {
    const path = `/v1/tasks/${encodeURIComponent(id)}/results/${encodeURIComponent(host)}/${stream}`;
    const { res, body } = await this.request('GET', path, undefined, CALL_TIMEOUT_MS, async (r) =>
      Buffer.from(await r.arrayBuffer()),
    );
    if (!res.ok)
      throw new ApiError(this.url, res.status, apiMessages(parseJson(body.toString('utf8')), res), this.token !== null);
    const state = res.headers.get('warren-state');
    if (state === null)
      throw new ControllerUnreachableError(
        this.url,
        `answered ${res.status} without a Warren-State header (is this a Warren controller?)`,
      );
    const utf8 = res.headers.get('warren-utf8');
    return {
      bytes: body,
      state: state as HostOutput['state'],
      utf8: utf8 === 'true' ? true : utf8 === 'false' ? false : null,
      totalBytes: Number(res.headers.get('warren-total-bytes') ?? body.length),
      truncated: res.headers.get('warren-truncated') === 'true',
    };
  }

  /** `GET /v1/tasks?limit=N`, newest first. */
  listTasks(limit: number): Promise<TaskList> {
    return this.call('GET', `/v1/tasks?limit=${limit}`);
  }

  /** `GET /v1/hosts`, sorted by host. */
  listHosts(): Promise<HostList> {
    return this.call('GET', '/v1/hosts');
  }

  /** `POST /v1/hosts/:host/accept` (admin): trust the host's pending key (`keyId` when it has several) or labels. */
  acceptHost(host: string, keyId?: string): Promise<HostAccepted> {
    return this.call('POST', `/v1/hosts/${encodeURIComponent(host)}/accept`, keyId ? { keyId } : {});
  }

  /** `POST /v1/hosts/:host/reject` (admin): forget the host's pending key (`keyId` when it has several). */
  rejectHost(host: string, keyId?: string): Promise<HostRejected> {
    return this.call('POST', `/v1/hosts/${encodeURIComponent(host)}/reject`, keyId ? { keyId } : {});
  }

  /** `GET /v1/hosts/keys`: accepted and pending keys with their fingerprints, by host. */
  listHostKeys(): Promise<HostKeyList> {
    return this.call('GET', '/v1/hosts/keys');
  }

  /** `POST /v1/tasks/:id/cancel` (operator): cancel on every host of the task, or on `hosts`. */
  cancelTask(id: string, hosts?: string[]): Promise<TaskCancelled> {
    return this.call('POST', `/v1/tasks/${encodeURIComponent(id)}/cancel`, hosts && hosts.length > 0 ? { hosts } : {});
  }

  /** `GET /v1/audit` (admin tokens only), newest first. */
  listAudit(query: AuditQueryParams): Promise<AuditList> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return this.call('GET', `/v1/audit${qs ? `?${qs}` : ''}`);
  }

  /**
   * One request for a file transfer ({@link uploadFile}, {@link downloadHostFile}): `body` is
   * streamed as `application/octet-stream`, and a 2xx answer's body is streamed into `sink`. A
   * non-2xx answer is thrown as {@link ApiError}; the answer (headers, status) is returned otherwise.
   */
  async transfer(
    method: string,
    path: string,
    opts: { body?: Readable; contentLength?: number; sink?: Writable; timeoutMs: number },
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = {};
    if (opts.body) headers['content-type'] = 'application/octet-stream';
    if (opts.contentLength !== undefined) headers['content-length'] = String(opts.contentLength);
    const { res, body } = await this.request(method, path, opts.body, opts.timeoutMs, (r) => r.text(), {
      headers,
      sink: opts.sink,
    });
    if (!res.ok) throw this.refusal(res, body);
    return res;
  }

  /** The {@link ApiError} of a non-2xx answer and its body text. */
  private refusal(res: HttpAnswer, text: string): ApiError {
    const retryAfter = Number(res.headers.get('retry-after') ?? NaN);
    return new ApiError(
      this.url,
      res.status,
      apiMessages(parseJson(text), res),
      this.token !== null,
      Number.isFinite(retryAfter) ? retryAfter : undefined,
    );
  }

  private async call<T>(method: string, path: string, body?: unknown, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
    const { res, body: text } = await this.request(method, path, body, timeoutMs, (r) => r.text());
    const parsed = parseJson(text);
    if (!res.ok) throw this.refusal(res, text);
    if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
      throw new ControllerUnreachableError(
        this.url,
        `answered ${res.status} with a body that is not the controller's JSON (is this a Warren controller?)`,
      );
    }
    return parsed as T;
  }

  /** One request and its body, read by `read`; any failure to get them becomes {@link ControllerUnreachableError}. */
  private async request<B>(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
    read: (res: HttpAnswer) => Promise<B>,
    bytes?: { headers: Record<string, string>; sink?: Writable },
  ): Promise<{ res: HttpAnswer; body: B }> {
    try {
      const headers: Record<string, string> = { accept: 'application/json' };
      if (body !== undefined) headers['content-type'] = 'application/json';
      Object.assign(headers, bytes?.headers);
      if (this.token !== null) headers.authorization = `Bearer ${this.token}`;
      const res = await this.fetchFn(this.base + path, {
        method,
        headers,
        body: body === undefined || bytes ? (body as Readable | undefined) : JSON.stringify(body),
        sink: bytes?.sink,
        signal: AbortSignal.timeout(timeoutMs),
        tls: this.tls,
      });
      return { res, body: await read(res) };
    } catch (err) {
      throw new ControllerUnreachableError(this.url, networkReason(err, timeoutMs, this.url));
    }
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
function apiMessages(body: unknown, res: Pick<HttpAnswer, 'status' | 'statusText'>): string[] {
  const message = (body as { message?: unknown } | undefined)?.message;
  if (Array.isArray(message) && message.length > 0) return message.map(String);
  if (typeof message === 'string' && message !== '') return [message];
  return [`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`];
}

/**
 * One line saying why a request to `url` failed (a socket error, or fetch's undici error with its
 * `cause`); a TLS failure or a protocol mismatch says what to do.
 */
export function networkReason(err: unknown, timeoutMs: number, url = ''): string {
  const e = err as {
    name?: string;
    message?: string;
    cause?: { code?: string; message?: string; errors?: { message?: string }[] };
  };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const tls = tlsReason(err, url);
  if (tls) return tls;
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
