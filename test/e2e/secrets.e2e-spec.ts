import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_URL, until, Warren } from './harness';

/** The broker password the harness puts in every `--broker` URL, and that URL without it. */
const BROKER_PASSWORD = decodeURIComponent(new URL(BROKER_URL).password);
const brokerUrlWithoutPassword = () => {
  const u = new URL(BROKER_URL);
  u.password = '';
  return u.toString();
};
/** What a password looks like inside a URL: the text between `user:` and `@`. */
const inUrl = `:${encodeURIComponent(BROKER_PASSWORD)}@`;
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8');
/** The lines of `log` holding `secret`: none, or those to read when a test fails. */
const linesWith = (log: string, secret: string) => log.split('\n').filter((l) => l.includes(secret));
const mode = (path: string) => statSync(path).mode & 0o777;

/**
 * Secrets stay secret: no API token in the controller's log whatever the answer, no broker
 * password in `ps` (which every local user and every command an agent runs can read) nor in any
 * log, and the controller's files readable by its own user only.
 */
describe('secrets: no token in a log, no broker password in ps, private files', () => {
  const w = new Warren();
  let limited = '';
  let revoked = '';
  let nobodyPolicy = '';

  beforeAll(async () => {
    expect(BROKER_PASSWORD).not.toBe('');
    await w.startController();
    limited = w.createToken('web-viewer', 'viewer', ['web*']);
    revoked = w.createToken('gone', 'viewer');
    w.controllerCommand(['token', 'revoke', 'gone']);
    nobodyPolicy = join(w.dir, 'policy.yaml');
    writeFileSync(nobodyPolicy, 'allowRoot: true\nusers: [root, nobody]\n');
    await w.startAgent('s1', {}, ['--policy', nobodyPolicy]);
  }, 60_000);
  afterAll(() => w.teardown(), 30_000);

  it('writes no token to its log on a 2xx, 400, 401, 403 or 404, and names the token instead', async () => {
    const admin = w.token;
    const cookie = (token: string) => ({ authorization: `Bearer ${token}`, cookie: `session=${token}` });
    const call = (method: string, path: string, headers: Record<string, string>, body?: string) =>
      fetch(`${w.url}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        body,
      }).then((r) => r.status);
    const statuses = [
      await call('GET', '/v1/hosts', cookie(admin)),
      await call('GET', `/v1/hosts?access_token=${admin}`, cookie(admin)),
      await call('GET', `/v1/tasks?token=${limited}`, cookie(limited)),
      await call('POST', '/v1/tasks', cookie(admin), '{}'),
      await call('GET', '/v1/no-such-route', cookie(admin)),
      await call('GET', '/v1/hosts', cookie(limited)),
      await call('POST', '/v1/tasks', cookie(limited), JSON.stringify({ command: 'true', hosts: ['web1'] })),
      await call('GET', '/v1/hosts', cookie(`${admin}x`)),
      await call('GET', '/v1/hosts', cookie(revoked)),
      await call('GET', '/v1/hosts?marker=end-of-requests', {}),
    ];
    expect(statuses).toEqual([200, 400, 400, 400, 404, 200, 403, 401, 401, 401]);
    await until(() => w.controller!.output.includes('end-of-requests'));
    const log = w.controller!.output;
    // the secret part of each token, past its public `wrn_<id>_` prefix
    for (const token of [admin, limited, revoked]) {
      expect(linesWith(log, token)).toEqual([]);
      expect(linesWith(log, token.split('_').slice(2).join('_'))).toEqual([]);
    }
    expect(log).toContain('"principal":"e2e"');
    expect(log).toContain('"principal":"web-viewer"');
    expect(log).toContain('?access_token=[redacted]"');
  });

  it('shows no broker password in the command line of the controller or an agent, not even to a command run as nobody', async () => {
    for (const p of [w.controller!, w.agents.get('s1')!]) {
      expect(cmdline(p.pid)).not.toContain(inUrl);
      expect(cmdline(p.pid)).toContain(':***@');
    }
    const agentPid = w.agents.get('s1')!.pid;
    const task = await w.runAndWait({
      command: `id -un; tr '\\0' ' ' < /proc/${agentPid}/cmdline`,
      hosts: ['s1'],
      runAs: 'nobody',
    });
    expect(task.results[0]).toMatchObject({ state: 'succeeded' });
    expect(task.results[0].stdout).toMatch(/^nobody\n.*warren-agent.*--broker \S+:\*\*\*@/);
    expect(task.results[0].stdout).not.toContain(inUrl);
  });

  it('connects an agent whose password comes from WARREN_BROKER_PASSWORD_FILE, and its commands see no WARREN_ variable', async () => {
    const file = join(w.dir, 'broker-password');
    writeFileSync(file, `${BROKER_PASSWORD}\n`, { mode: 0o600 });
    await w.startAgent('s2', { WARREN_BROKER_PASSWORD_FILE: file, WARREN_BROKER_URL: brokerUrlWithoutPassword() }, [
      '--broker',
      brokerUrlWithoutPassword(),
    ]);
    const task = await w.runAndWait({ command: 'env | grep ^WARREN_ || echo none', hosts: ['s2'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: 'none\n' });
  });

  it("uses the file's password: a wrong one is refused by the broker, and never logged", async () => {
    const file = join(w.dir, 'wrong-password');
    writeFileSync(file, 'not-the-broker-password\n', { mode: 0o600 });
    const p = await w.startAgent('s3', {}, ['--broker', brokerUrlWithoutPassword(), '--broker-password-file', file], {
      wait: false,
    });
    await p.waitFor(/"amqp connect failed; retrying"/, 20_000);
    expect(linesWith(p.output, 'not-the-broker-password')).toEqual([]);
    expect(cmdline(p.pid)).not.toContain('not-the-broker-password');
    await p.stop();
  });

  it('logs no broker URL with its password, in the controller or an agent', () => {
    for (const p of [w.controller!, ...w.agents.values()]) expect(linesWith(p.output, inUrl)).toEqual([]);
  });

  it('creates controller.db, its -wal and -shm and the signing key readable by its own user only', () => {
    for (const f of ['controller.db', 'controller.db-wal', 'controller.db-shm', 'controller.key'])
      expect({ f, mode: mode(join(w.dir, f)).toString(8) }).toEqual({ f, mode: '600' });
  });

  it('makes an older 0644 database private at start and warns of a state directory others can enter', async () => {
    await w.controller!.stop('SIGKILL'); // keeps -wal and -shm, as a crash would
    for (const f of ['controller.db', 'controller.db-wal', 'controller.db-shm']) chmodSync(join(w.dir, f), 0o644);
    chmodSync(w.dir, 0o755);
    try {
      const p = await w.startController();
      for (const f of ['controller.db', 'controller.db-wal', 'controller.db-shm'])
        expect({ f, mode: mode(join(w.dir, f)).toString(8) }).toEqual({ f, mode: '600' });
      const warning = JSON.parse(await p.waitFor(/state directory is accessible/));
      expect(warning).toMatchObject({ level: 40, dir: w.dir, mode: '755' });
    } finally {
      chmodSync(w.dir, 0o700);
    }
  });
});
