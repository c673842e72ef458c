import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

/** API tokens, roles, host patterns and the audit log, against a real controller and agents. */
describe('API authentication, roles and the audit log', () => {
  const w = new Warren();
  const emptyHome = mkdtempSync(join(tmpdir(), 'warren-e2e-home-'));
  const t: Record<string, string> = {};

  beforeAll(async () => {
    await w.startController();
    t.viewer = w.createToken('viewer1', 'viewer');
    t.webops = w.createToken('webops', 'operator', ['web*']);
    t.revoked = w.createToken('leaver', 'admin');
    w.controllerCommand(['token', 'revoke', 'leaver']);
    await Promise.all(['web1', 'db1'].map((h) => w.startAgent(h)));
  });
  afterAll(async () => {
    rmSync(emptyHome, { recursive: true, force: true });
    await w.teardown();
  });

  it('answers /healthz without a token', async () => {
    expect((await w.api('GET', '/healthz', undefined, { token: null })).status).toBe(200);
  });

  it.each([
    ['no token', null],
    ['an unknown token', 'wrn_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['a revoked token', 'revoked'],
  ])('answers 401 with WWW-Authenticate: Bearer to %s', async (_what, token) => {
    const res = await w.api('GET', '/v1/tasks', undefined, { token: token === 'revoked' ? t.revoked : token });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.body).toMatchObject({ statusCode: 401, message: expect.any(String) });
  });

  it('lets a viewer read but not create tasks (403)', async () => {
    expect((await w.api('GET', '/v1/tasks', undefined, { token: t.viewer })).status).toBe(200);
    const res = await w.api(
      'POST',
      '/v1/tasks',
      { command: 'echo viewer-was-here', hosts: ['web1'] },
      { token: t.viewer },
    );
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/role viewer; POST \/v1\/tasks needs operator/);
    expect((await w.api('GET', '/v1/audit', undefined, { token: t.viewer })).status).toBe(403);
  });

  it('refuses an operator limited to web* a task on db1, naming db1, storing and sending nothing', async () => {
    const res = await w.api(
      'POST',
      '/v1/tasks',
      { command: 'echo webops-on-db', hosts: ['web1', 'db1'], wait: true },
      { token: t.webops },
    );
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/may not run commands on db1\b/);
    expect(res.body.message).not.toMatch(/on web1/);
    const { tasks } = (await w.api('GET', '/v1/tasks?limit=1000')).body;
    expect(tasks.map((x: { command: string }) => x.command)).not.toContain('echo webops-on-db');
  });

  it('runs an operator limited to web* on web1, and shows it only the tasks within its patterns', async () => {
    const res = await w.api(
      'POST',
      '/v1/tasks',
      {
        command: 'echo "hi from $(hostname -s)" $SECRET_NAME',
        hosts: ['web1'],
        env: { SECRET_NAME: 'p4ssw0rd' },
        wait: true,
      },
      { token: t.webops },
    );
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ host: 'web1', state: 'succeeded' });
    const dbTask = await w.runAndWait({ command: 'true', hosts: ['db1'] });
    const mine = (await w.api('GET', '/v1/tasks', undefined, { token: t.webops })).body.tasks.map(
      (x: { id: string }) => x.id,
    );
    expect(mine).toContain(res.body.id);
    expect(mine).not.toContain(dbTask.id);
    const other = await w.api('GET', `/v1/tasks/${dbTask.id}`, undefined, { token: t.webops });
    expect(other.status).toBe(403);
    expect(other.body.message).toMatch(/hosts outside the token's patterns/);
    expect(other.body.message).not.toMatch(/db1/); // the caller is not told of hosts it may not see
    // …and only the hosts within its patterns
    const hosts = (await w.api('GET', '/v1/hosts', undefined, { token: t.webops })).body.hosts.map(
      (h: { host: string }) => h.host,
    );
    expect(hosts).toEqual(['web1']);
    expect((await w.api('GET', '/v1/hosts')).body.hosts.map((h: { host: string }) => h.host)).toEqual(['db1', 'web1']);
  });

  it('refuses an over-long command with a 400 naming the field, and audits it', async () => {
    const res = await w.api('POST', '/v1/tasks', { command: 'x'.repeat(65_537), hosts: ['web1'] });
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual([expect.stringMatching(/^command is 65537 bytes of UTF-8; at most 65536 bytes/)]);
  });

  it('keeps an audit record of every created task (exact command, env names without values, outcome per host) and every denial with its source', async () => {
    const { records } = (await w.api('GET', '/v1/audit?limit=1000')).body;
    const created = records.find(
      (r: any) => r.action === 'task.create' && r.decision === 'allowed' && r.actor === 'webops',
    );
    expect(created).toMatchObject({
      command: 'echo "hi from $(hostname -s)" $SECRET_NAME',
      envNames: ['SECRET_NAME'],
      hosts: ['web1'],
      source: '127.0.0.1',
      outcome: { web1: 'succeeded' },
      taskId: expect.stringMatching(/^t_/),
    });
    expect(JSON.stringify(records)).not.toContain('p4ssw0rd');

    const denied = records.filter((r: any) => r.decision === 'denied');
    expect(denied).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ actor: 'anonymous', action: 'api.request', reason: 'no token', source: '127.0.0.1' }),
        expect.objectContaining({ actor: 'anonymous', reason: 'unknown token', source: '127.0.0.1' }),
        expect.objectContaining({ actor: 'leaver', reason: 'token revoked' }),
        expect.objectContaining({
          actor: 'viewer1',
          action: 'task.create',
          command: 'echo viewer-was-here',
          reason: 'role viewer below operator',
          source: '127.0.0.1',
        }),
        expect.objectContaining({
          actor: 'webops',
          action: 'task.create',
          command: 'echo webops-on-db',
          hosts: ['web1', 'db1'],
          reason: expect.stringMatching(/db1/),
        }),
        expect.objectContaining({ actor: 'webops', action: 'task.read', reason: expect.stringMatching(/db1/) }),
        expect.objectContaining({
          actor: 'e2e',
          action: 'task.create',
          reason: expect.stringMatching(/^invalid request: command is 65537 bytes of UTF-8; at most 65536 bytes/),
        }),
      ]),
    );
    expect(records.filter((r: any) => r.action === 'token.create').map((r: any) => r.detail.name)).toEqual(
      expect.arrayContaining(['e2e', 'viewer1', 'webops', 'leaver']),
    );
    // newest first
    expect(records.map((r: any) => r.id)).toEqual(
      [...records.map((r: any) => r.id)].sort((a: number, b: number) => b - a),
    );
  });

  it('`warren run` without a token exits 5 and says how to get one', async () => {
    const r = await w.cli(['run', 'true', '--hosts', 'web1'], { WARREN_TOKEN: '', HOME: emptyHome });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/no API token given/);
    expect(r.stderr).toMatch(/warren-controller token create/);
  });

  it('`warren run` past its host patterns exits 2 with the reason', async () => {
    const r = await w.cli(['run', 'true', '--hosts', 'db1'], { WARREN_TOKEN: t.webops });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not allowed: .*db1/);
  });

  it('`warren audit` prints the records as a table', async () => {
    const r = await w.cli(['audit', '--limit', '200']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^TIME \(UTC\)\s+ACTOR\s+SOURCE\s+ACTION\s+DECISION\s+HOSTS\s+COMMAND/);
    expect(r.stdout).toMatch(
      /\swebops\s+127\.0\.0\.1\s+task\.create\s+allowed\s+web1\s+echo "hi from \$\(hostname -s\)" \$SECRET_N…\s+succeeded web1$/m,
    );
    expect(r.stdout).toMatch(
      /\slocal:\S+\s+local\s+token\.create\s+allowed\s+-\s+-\s+name=webops role=operator hostPatterns=web\*$/m,
    );
    expect(r.stdout).toMatch(/\sanonymous\s+127\.0\.0\.1\s+api\.request\s+denied\s+-\s+-\s+no token$/m);
    const json = await w.cli(['audit', '--json', '--decision', 'denied', '--limit', '3']);
    expect(JSON.parse(json.stdout).records).toHaveLength(3);
  });
});
