import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliTuning, runCli } from './cli.program';
import type { ApiResponseBody, HostResult, TaskView } from '@warren/api';
import { accepted, hostView, task } from './render/task.fixtures';

/** A request the fake controller received. */
interface Seen {
  method: string;
  url: string;
  body: unknown;
}

type Answer = { status: number; body?: ApiResponseBody } | 'cut';

/** A stand-in controller on a random port: answers each request with what `route` says, and records it. */
class FakeController {
  readonly seen: Seen[] = [];
  route: (req: Seen) => Answer = () => ({
    status: 404,
    body: { statusCode: 404, error: 'NotFoundError', message: 'no route' },
  });
  private server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
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

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env },
    TUNING,
  );
  return { code, stdout, stderr };
}

const done = (host: string, state: HostResult['state'], exitCode: number | null, out = ''): HostResult => ({
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
  reason: null,
  rejectCode: null,
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:00:00.010Z',
  durationMs: 10,
});

function taskOf(results: HostResult[], state: TaskView['state'] = 'completed'): TaskView {
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

describe('warren against a controller over HTTP', () => {
  const ctl = new FakeController();
  let url: string;

  beforeEach(async () => {
    ctl.seen.length = 0;
    url = await ctl.start();
  });
  afterEach(() => ctl.stop());

  it('run without --wait sends only the given fields and prints only the task id', async () => {
    ctl.route = () => ({ status: 202, body: accepted('t_abc', ['web1', 'web2']) });
    const r = await cli(['run', 'uptime', '--hosts', 'web1', 'web2'], { WARREN_URL: url });
    expect(r).toEqual({ code: 0, stdout: 't_abc\n', stderr: '' });
    expect(ctl.seen).toEqual([
      { method: 'POST', url: '/v1/tasks', body: { command: 'uptime', hosts: ['web1', 'web2'] } },
    ]);
  });

  it('run turns durations into ms and collects --env, with --url after the subcommand winning over WARREN_URL', async () => {
    ctl.route = () => ({ status: 202, body: accepted('t_abc', ['a', 'b', 'c']) });
    const r = await cli(
      [
        'run',
        'env',
        '--hosts',
        'a,b',
        'c',
        '--timeout',
        '2s',
        '--delivery-timeout',
        '500ms',
        '--kill-grace',
        '0',
        '--env',
        'A=1',
        '--env',
        'B=x=y',
        '--cwd',
        '/tmp',
        '--json',
        '--url',
        url,
      ],
      { WARREN_URL: 'http://127.0.0.1:9' },
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      id: 't_abc',
      hosts: ['a', 'b', 'c'],
      state: 'running',
      concurrency: null,
      maxErrors: null,
    });
    expect(ctl.seen[0].body).toEqual({
      command: 'env',
      hosts: ['a', 'b', 'c'],
      timeoutMs: 2000,
      deliveryTimeoutMs: 500,
      killGraceMs: 0,
      env: { A: '1', B: 'x=y' },
      cwd: '/tmp',
    });
  });

  it('run --wait long-polls until the task completes, renders it, and exits 1 when one host failed', async () => {
    let polls = 0;
    ctl.route = (req) => {
      if (req.method === 'POST') return { status: 202, body: accepted('t_abc', ['web1', 'web2']) };
      polls++;
      if (polls < 3)
        return {
          status: 200,
          body: taskOf(
            [done('web1', 'succeeded', 0, 'ok\n'), { ...done('web2', 'running', null), finishedAt: null }],
            'running',
          ),
        };
      return { status: 200, body: taskOf([done('web1', 'succeeded', 0, 'ok\n'), done('web2', 'failed', 2)]) };
    };
    const r = await cli(['--url', url, 'run', 'deploy', '--hosts', 'web1', 'web2', '--wait']);
    expect(r.code).toBe(1);
    expect(ctl.seen[0].body).toEqual({ command: 'deploy', hosts: ['web1', 'web2'] });
    expect(ctl.seen.slice(1).map((s) => `${s.method} ${s.url}`)).toEqual(
      Array(3).fill('GET /v1/tasks/t_abc?waitMs=30000'),
    );
    expect(r.stdout).toMatch(
      /^web1 {2}succeeded {2}exit 0 {2}10 ms\n {4}ok\nweb2 {2}failed {5}exit 2 {2}10 ms\n\n2 hosts: 1 succeeded, 1 failed {2}\(task t_abc, 1\.0 s\)\nfailed \(1\): web2\n$/,
    );
    expect(r.stderr).toBe('');
  });

  it('run --wait --json prints exactly one JSON document, and exits 0 when every host succeeded', async () => {
    const finished = taskOf([done('a', 'succeeded', 0)]);
    ctl.route = (req) =>
      req.method === 'POST' ? { status: 202, body: accepted('t_abc', ['a']) } : { status: 200, body: finished };
    const r = await cli(['run', 'true', '--hosts', 'a', '--wait', '--json', '--url', url]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(finished);
  });

  it('run --wait rides out one cut connection while polling', async () => {
    let polls = 0;
    ctl.route = (req) => {
      if (req.method === 'POST') return { status: 202, body: accepted('t_abc', ['a']) };
      return ++polls === 1 ? 'cut' : { status: 200, body: taskOf([done('a', 'succeeded', 0)]) };
    };
    const r = await cli(['run', 'true', '--hosts', 'a', '--wait', '--url', url]);
    expect(r.code).toBe(0);
    expect(polls).toBe(2);
  });

  it("exits 2 and prints each of the API's messages when it refuses the task (400)", async () => {
    ctl.route = () => ({
      status: 400,
      body: {
        statusCode: 400,
        error: 'Bad Request',
        message: ['each value in hosts must be a host id', 'env must be an object'],
      },
    });
    const r = await cli(['run', 'true', '--hosts', 'bad!', '--url', url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('warren: each value in hosts must be a host id\nwarren: env must be an object\n');
  });

  it('exits 3 when the controller answers 503, saying so', async () => {
    ctl.route = () => ({
      status: 503,
      body: { statusCode: 503, error: 'BrokerUnavailableError', message: 'broker unavailable' },
    });
    const r = await cli(['run', 'true', '--hosts', 'a', '--url', url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`warren: the controller at ${url} is unavailable (HTTP 503): broker unavailable\n`);
  });

  it('check of a running task shows what is there, says it is still running, and exits 4', async () => {
    ctl.route = () => ({
      status: 200,
      body: taskOf([done('a', 'succeeded', 0), { ...done('b', 'pending', null), startedAt: null }], 'running'),
    });
    const r = await cli(['check', 't_abc', '--url', url]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^b {2}pending {4}waiting for its agent to take it$/m);
    expect(r.stderr).toBe('warren: task t_abc still running\n');
    expect(ctl.seen.map((s) => s.url)).toEqual(['/v1/tasks/t_abc']);
  });

  it("check_task of an unknown task exits 2 with the API's message", async () => {
    ctl.route = () => ({
      status: 404,
      body: { statusCode: 404, error: 'TaskNotFoundError', message: 'task t_nope not found' },
    });
    const r = await cli(['check_task', 't_nope'], { WARREN_URL: url });
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'warren: task t_nope not found\n' });
  });

  it('lists hosts and tasks as tables', async () => {
    ctl.route = (req) =>
      req.url.startsWith('/v1/hosts')
        ? {
            status: 200,
            body: {
              hosts: [
                hostView('web1', {
                  labels: { role: 'web' },
                  running: 1,
                  lastSeen: new Date(Date.now() - 3000).toISOString(),
                  trust: 'pending',
                  keyId: null,
                  pendingKeyIds: ['key-web1'],
                }),
              ],
            },
          }
        : {
            status: 200,
            body: {
              tasks: [
                {
                  ...taskOf([]),
                  command: `echo ${'x'.repeat(80)}`,
                  summary: { total: 3, byState: { succeeded: 2, failed: 1 } },
                },
              ],
            },
          };
    const hosts = await cli(['hosts', '--url', url]);
    expect(hosts.code).toBe(0);
    expect(hosts.stdout.split('\n')[0]).toMatch(/^HOST\s+STATUS\s+TRUST\s+LABELS\s+VERSION\s+RUNNING\s+LAST SEEN$/);
    expect(hosts.stdout.split('\n')[1]).toMatch(/^web1\s+online\s+pending\s+role=web\s+0\.1\.0\s+1\/4\s+[34]s ago$/);
    const tasks = await cli(['tasks', '--limit', '5', '--url', url]);
    expect(tasks.code).toBe(0);
    expect(ctl.seen.at(-1)?.url).toBe('/v1/tasks?limit=5');
    const row = tasks.stdout.split('\n')[1];
    expect(row).toMatch(/^t_abc\s+completed\s+3\s+2 succeeded, 1 failed\s+\S+ ago\s+echo x+…$/);
    expect(row.slice(row.indexOf('echo'))).toHaveLength(50);
  });
});

describe('warren without a controller', () => {
  it('exits 3 naming the refused connection when nothing listens on the port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const r = await cli(['hosts', '--url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `warren: cannot reach the controller at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
  });

  it('exits 2 on usage errors before sending anything', async () => {
    const nowhere = { WARREN_URL: 'http://127.0.0.1:9' };
    const duration = await cli(['run', 'true', '--hosts', 'a', '--timeout', 'soon'], nowhere);
    expect(duration.code).toBe(2);
    expect(duration.stderr).toMatch(/^warren: option '--timeout <duration>' argument 'soon' is invalid/);
    const zero = await cli(['run', 'true', '--hosts', 'a', '--delivery-timeout', '0'], nowhere);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/argument '0' is invalid\. Expected a duration above 0: 500ms, 30s, 5m, 1h/);
    const words = await cli(['run', 'df', '/tmp', '--hosts', 'a'], nowhere);
    expect(words).toMatchObject({
      code: 2,
      stderr: 'warren: run takes the command as one argument; quote it: warren run "df /tmp" --hosts …\n',
    });
    expect((await cli(['run', 'true', '--hosts', 'a', '--env', 'NOEQUALS'], nowhere)).code).toBe(2);
    expect((await cli(['run', 'true'], nowhere)).stderr).toMatch(
      /say where to run it: --hosts, --label key=value, or --all/,
    );
    expect((await cli(['frobnicate'], nowhere)).code).toBe(2);
    expect((await cli(['hosts'], { WARREN_URL: 'ftp://x' })).stderr).toMatch(/must start with http/);
  });

  it('prints help with the exit statuses and the version, exiting 0', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit status:\n {2}0 {2}every host succeeded/);
    expect(help.stdout).toMatch(/ {2}4 {2}check without --wait: the task is still running/);
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    expect((await cli(['run', '--help'])).code).toBe(0);
  });
});
