import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiResponseBody, FileUploaded, HostResult, TaskView } from '@warren/api';
import { afterEach, beforeEach } from 'vitest';
import type { InStream } from './cli.io';
import { type CliTuning, runCli } from './cli.program';
import { task } from './render/task.fixtures';

/** A request the fake controller received. */
export interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** A request whose body was bytes (`application/octet-stream`): a file upload. */
export interface Upload {
  url: string;
  /** the bytes received, exactly */
  bytes: Buffer;
  /** the request headers, lowercase names */
  headers: Record<string, string | string[] | undefined>;
}

/**
 * What the fake controller answers: a status and JSON body; or raw `bytes` (a file download) with
 * `headers`; or `cut` (the connection dropped unanswered).
 */
export type Answer =
  | { status: number; body?: ApiResponseBody | FileUploaded }
  | { status: number; bytes: Buffer; headers?: Record<string, string> }
  | 'cut';

/** A stand-in controller on a random port: answers each request with what `route` says, and records it. */
export class FakeController {
  readonly seen: Seen[] = [];
  /** the byte bodies received, in order (they are in {@link seen} too, with `body` undefined) */
  readonly uploads: Upload[] = [];
  /** where it listens, once started */
  url = '';
  /** By default every request is an unknown route, answered as the controller (Nest) answers one. */
  route: (req: Seen) => Answer = (req) => ({
    status: 404,
    body: { statusCode: 404, error: 'Not Found', message: `Cannot ${req.method} ${req.url}` },
  });
  private server: Server = createServer((req, res) => void this.handle(req, res));

  /** Listens on a new random port, having forgotten the requests seen before. */
  async start(): Promise<void> {
    this.seen.length = 0;
    this.uploads.length = 0;
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const bytes = req.headers['content-type'] === 'application/octet-stream';
    if (bytes) this.uploads.push({ url: req.url ?? '', bytes: raw, headers: req.headers });
    const body = raw.length > 0 && !bytes ? JSON.parse(raw.toString('utf8')) : undefined;
    const seen = { method: req.method ?? '', url: req.url ?? '', body };
    this.seen.push(seen);
    const answer = this.route(seen);
    if (answer === 'cut') return void req.socket.destroy();
    if ('bytes' in answer)
      return void res
        .writeHead(answer.status, { 'content-type': 'application/octet-stream', ...answer.headers })
        .end(answer.bytes);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? {}));
  }
}

const TUNING: Partial<CliTuning> = {
  poll: { waitMs: 30_000, minIntervalMs: 0, retryDelayMs: 5, maxFailures: 3, outageMs: 0 },
  incompleteRetryMs: 1000,
};

/**
 * Runs `warren argv` with `env` (and `stdin` as its standard input, if given), polling without
 * pause; resolves with its exit status and what it printed.
 */
export async function cli(argv: string[], env: Record<string, string> = {}, stdin?: InStream) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env, stdin },
    TUNING,
  );
  return { code, stdout, stderr };
}

/** The result of `host` finished in `state`, with `out` on stdout. */
export const done = (host: string, state: HostResult['state'], exitCode: number | null, out = ''): HostResult => ({
  host,
  invocationId: `i-${host}`,
  state,
  exitCode,
  signal: null,
  stdout: out,
  stderr: '',
  stdoutBytes: out.length,
  stderrBytes: 0,
  stdoutTruncated: false,
  stderrTruncated: false,
  stdoutUtf8: true,
  stderrUtf8: true,
  reason: null,
  rejectCode: null,
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:00:00.010Z',
  durationMs: 10,
  file: null,
});

/** Task `t_abc` (`deploy`) in `state` with these results. */
export function taskOf(results: HostResult[], state: TaskView['state'] = 'completed'): TaskView {
  return {
    ...task([]),
    id: 't_abc',
    command: 'deploy',
    state,
    createdAt: '2025-01-01T00:00:00.000Z',
    finishedAt: state === 'running' ? null : '2025-01-01T00:00:01.000Z',
    summary: { total: results.length, byState: {} },
    results,
  };
}

/** A {@link FakeController} listening on a fresh port during each test of the calling `describe`. */
export function useFakeController(): FakeController {
  const ctl = new FakeController();
  beforeEach(() => ctl.start());
  afterEach(() => ctl.stop());
  return ctl;
}
