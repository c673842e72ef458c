import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './cli.program';
import { EXIT } from './exit-status.table';
import type { ApiResponseBody, AuditRecord } from '@warren/api';
import { accepted } from './render/task.fixtures';

/** A stand-in controller that checks the bearer token like the real one and records what it saw. */
const seen: { method: string; url: string; auth?: string; body?: unknown }[] = [];
let answer: (req: (typeof seen)[number]) => { status: number; body: ApiResponseBody } = () => ({
  status: 200,
  body: { tasks: [] },
});
const GOOD = 'wrn_aaaaaaaaaaaa_good';
let server: Server;
let url: string;
const home = mkdtempSync(join(tmpdir(), 'warren-cli-home-'));

beforeAll(async () => {
  server = createServer(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const r = {
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization,
      body: raw ? JSON.parse(raw) : undefined,
    };
    seen.push(r);
    const a =
      r.auth === undefined
        ? {
            status: 401,
            body: {
              statusCode: 401,
              message:
                'this API needs a token: send `Authorization: Bearer <token>`; create one on the controller host with `warren-controller token create`',
            },
          }
        : r.auth !== `Bearer ${GOOD}`
          ? { status: 401, body: { statusCode: 401, message: 'the token is not valid' } }
          : answer(r);
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  seen.length = 0;
  rmSync(join(home, '.warren'), { recursive: true, force: true });
});

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: { WARREN_URL: url, ...env },
  });
  return { code, stdout, stderr };
}

describe('warren and API tokens', () => {
  it('without any token exits 5 and says where to put one and how an admin creates it', async () => {
    const r = await cli(['hosts'], { HOME: home });
    expect(r.code).toBe(EXIT.UNAUTHENTICATED);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      /no API token given: pass one with --token, the WARREN_TOKEN variable, or the file ~\/\.warren\/token/,
    );
    expect(r.stderr).toMatch(/warren-controller token create --name <you> --role operator/);
    expect(seen[0].auth).toBeUndefined();
  });

  it('with a refused token exits 5 saying the token was refused', async () => {
    const r = await cli(['hosts'], { WARREN_TOKEN: 'wrn_bad' });
    expect(r).toMatchObject({ code: 5, stderr: expect.stringMatching(/the token given was refused/) });
  });

  it('sends --token before WARREN_TOKEN before ~/.warren/token, as a bearer token', async () => {
    answer = () => ({ status: 200, body: { hosts: [] } });
    mkdirSync(join(home, '.warren'), { mode: 0o700 });
    writeFileSync(join(home, '.warren/token'), `${GOOD}\n`, { mode: 0o600 });
    expect((await cli(['hosts', '--json'], { HOME: home })).code).toBe(0);
    expect((await cli(['hosts', '--json'], { HOME: home, WARREN_TOKEN: 'wrn_env' })).code).toBe(5);
    expect((await cli(['--token', GOOD, 'hosts', '--json'], { HOME: home, WARREN_TOKEN: 'wrn_env' })).code).toBe(0);
    expect(seen.map((s) => s.auth)).toEqual([`Bearer ${GOOD}`, 'Bearer wrn_env', `Bearer ${GOOD}`]);
  });

  it('warns when the token file is readable by others, and still uses it', async () => {
    answer = () => ({ status: 200, body: { hosts: [] } });
    mkdirSync(join(home, '.warren'));
    writeFileSync(join(home, '.warren/token'), GOOD, { mode: 0o644 });
    const r = await cli(['hosts', '--json'], { HOME: home });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/token is readable by others \(mode 0644\); protect it with: chmod 600/);
  });

  it('refuses a token with white space in it before sending anything', async () => {
    const r = await cli(['--token', 'two words', 'hosts']);
    expect(r).toMatchObject({ code: EXIT.USAGE, stderr: expect.stringMatching(/contains white space/) });
    expect(seen).toEqual([]);
  });

  it('prints the reason of a 403 and exits 2', async () => {
    answer = () => ({ status: 403, body: { statusCode: 403, message: 'the token "ops" may not run commands on db1' } });
    const r = await cli(['--token', GOOD, 'run', 'uptime', '--hosts', 'db1']);
    expect(r).toMatchObject({ code: 2, stderr: 'warren: not allowed: the token "ops" may not run commands on db1\n' });
  });

  it('run --user sends runAs', async () => {
    answer = () => ({ status: 202, body: accepted('t_1', ['web1']) });
    await cli(['--token', GOOD, 'run', 'id', '--hosts', 'web1', '--user', 'deploy']);
    expect(seen[0].body).toEqual({ command: 'id', hosts: ['web1'], runAs: 'deploy' });
  });
});

describe('warren audit', () => {
  const rec = (over: Partial<AuditRecord>): AuditRecord => ({
    id: 1,
    at: '2025-01-31T12:00:05.123Z',
    actor: 'alice',
    count: 1,
    source: '10.0.0.7',
    action: 'task.create',
    decision: 'allowed',
    reason: null,
    taskId: 't_1',
    hosts: [],
    command: null,
    cwd: null,
    envNames: [],
    runAs: null,
    invocationId: null,
    detail: null,
    ...over,
  });

  it('passes the filters and prints one line per record: time, actor, source, action, decision, hosts, command, reason or outcome', async () => {
    answer = () => ({
      status: 200,
      body: {
        records: [
          rec({
            id: 2,
            hosts: ['web1', 'web2', 'db1'],
            command: 'systemctl   restart nginx && echo a very long tail that will be cut off here',
            outcome: { web1: 'succeeded', web2: 'succeeded', db1: 'rejected' },
          }),
          rec({
            id: 1,
            actor: 'anonymous',
            action: 'api.request',
            decision: 'denied',
            reason: 'no token',
            taskId: null,
          }),
        ],
      },
    });
    const r = await cli(['--token', GOOD, 'audit', '--limit', '5', '--task', 't_1', '--decision', 'denied']);
    expect(seen[0].url).toBe('/v1/audit?limit=5&taskId=t_1&decision=denied');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^TIME \(UTC\)\s+ACTOR\s+SOURCE\s+ACTION\s+DECISION\s+HOSTS\s+COMMAND\s+REASON \/ OUTCOME$/,
    );
    expect(lines[1]).toMatch(
      /^2025-01-31 12:00:05Z\s+alice\s+10\.0\.0\.7\s+task\.create\s+allowed\s+db1,web\[1-2\]\s+systemctl restart nginx && echo a very…\s+succeeded web\[1-2\]; rejected db1$/,
    );
    expect(lines[2]).toMatch(/^\S+ \S+\s+anonymous\s+10\.0\.0\.7\s+api\.request\s+denied\s+-\s+-\s+no token$/);
  });

  it('--json prints the API answer', async () => {
    answer = () => ({ status: 200, body: { records: [rec({})] } });
    const r = await cli(['--token', GOOD, 'audit', '--json']);
    expect(JSON.parse(r.stdout).records[0].actor).toBe('alice');
  });
});
