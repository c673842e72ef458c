import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiResponseBody, HostResult, TaskView } from '@warren/api';
import { afterEach, beforeEach } from 'vitest';
import { type CliTuning, runCli } from './cli.program';
import { task } from './render/task.fixtures';

/** A request the fake controller received. */
export interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** What the fake controller answers: a status and JSON body, or `cut` (the connection dropped unanswered). */
export type Answer = { status: number; body?: ApiResponseBody } | 'cut';

/** A stand-in controller on a random port: answers each request with what `route` says, and records it. */
export class FakeController {
  readonly seen: Seen[] = [];
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
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const seen = { method: req.method ?? '', url: req.url ?? '', body: raw ? JSON.parse(raw) : undefined };
    this.seen.push(seen);
    const answer = this.route(seen);
    if (answer === 'cut') return void req.socket.destroy();
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body ?? {}));
  }
}

const TUNING: Partial<CliTuning> = { poll: { waitMs: 30_000, minIntervalMs: 0, retryDelayMs: 5, maxFailures: 3 } };

/** Runs `warren argv` with `env`, polling without pause; resolves with its exit status and what it printed. */
export async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env },
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
