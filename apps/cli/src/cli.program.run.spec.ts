import { describe, expect, it } from 'vitest';
import { cli, done, taskOf, useFakeController } from './cli.program.fixtures';
import { accepted } from './render/task.fixtures';

describe('warren run against a controller over HTTP', () => {
  const ctl = useFakeController();

  it('run without --wait sends only the given fields and prints only the task id', async () => {
    ctl.route = () => ({ status: 202, body: accepted('t_abc', ['web1', 'web2']) });
    const r = await cli(['run', 'uptime', '--hosts', 'web1', 'web2'], { WARREN_URL: ctl.url });
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
        ctl.url,
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
    const r = await cli(['--url', ctl.url, 'run', 'deploy', '--hosts', 'web1', 'web2', '--wait']);
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
    const r = await cli(['run', 'true', '--hosts', 'a', '--wait', '--json', '--url', ctl.url]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(finished);
  });

  it('run --wait rides out one cut connection while polling', async () => {
    let polls = 0;
    ctl.route = (req) => {
      if (req.method === 'POST') return { status: 202, body: accepted('t_abc', ['a']) };
      return ++polls === 1 ? 'cut' : { status: 200, body: taskOf([done('a', 'succeeded', 0)]) };
    };
    const r = await cli(['run', 'true', '--hosts', 'a', '--wait', '--url', ctl.url]);
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
    const r = await cli(['run', 'true', '--hosts', 'bad!', '--url', ctl.url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('warren: each value in hosts must be a host id\nwarren: env must be an object\n');
  });

  it('exits 3 when the controller answers 503, saying so', async () => {
    ctl.route = () => ({
      status: 503,
      body: { statusCode: 503, error: 'BrokerUnavailableError', message: 'broker unavailable' },
    });
    const r = await cli(['run', 'true', '--hosts', 'a', '--url', ctl.url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`warren: the controller at ${ctl.url} is unavailable (HTTP 503): broker unavailable\n`);
  });
});

describe('warren run refusing what no host can run, before sending it', () => {
  const ctl = useFakeController();

  it.each([
    [
      ['echo ' + 'ｈ'.repeat(60_000)],
      'warren: command is 180005 bytes of UTF-8; at most 65536 bytes (Linux refuses one argument of 131072 bytes or more)\n',
    ],
    [['pwd', '--cwd', 'docs'], 'warren: --cwd must be an absolute path (starting with /), got "docs"\n'],
    [
      ['env', '--env', `BIG=${'é'.repeat(65_534)}`],
      "warren: --env: BIG=value is 131072 bytes of UTF-8; at most 131071 bytes (Linux's MAX_ARG_STRLEN less its NUL)\n",
    ],
  ])('exits 2 and sends nothing for %#', async (args, stderr) => {
    ctl.route = () => ({ status: 202, body: accepted('t_abc', ['web1']) });
    const r = await cli(['run', ...args, '--hosts', 'web1', '--url', ctl.url]);
    expect(r).toEqual({ code: 2, stdout: '', stderr });
    expect(ctl.seen).toEqual([]);
  });
});
