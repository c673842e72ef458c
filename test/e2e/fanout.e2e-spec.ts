import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

/** Each agent's children see its ROLE, so one command gives each host its own output and exit code. */
const COMMAND = 'echo "out:$ROLE"; echo "err:$ROLE" >&2; [ "$ROLE" != h3 ] || exit 7';

describe('one task to three agents', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await Promise.all(['h1', 'h2', 'h3'].map((h) => w.startAgent(h, { ROLE: h })));
  });
  afterAll(() => w.teardown());

  it('returns every host its own stdout, stderr, exit code and state through the HTTP API', async () => {
    const task = await w.runAndWait({ command: COMMAND, hosts: ['h1', 'h2', 'h3'] });
    expect(task.state).toBe('completed');
    expect(task.summary).toEqual({ total: 3, byState: { succeeded: 2, failed: 1 } });
    const byHost = Object.fromEntries(task.results.map((r: any) => [r.host, r]));
    for (const h of ['h1', 'h2']) {
      expect(byHost[h]).toMatchObject({
        state: 'succeeded',
        exitCode: 0,
        signal: null,
        stdout: `out:${h}\n`,
        stderr: `err:${h}\n`,
        stdoutTruncated: false,
      });
      expect(byHost[h].durationMs).toBeGreaterThanOrEqual(0);
      expect(Date.parse(byHost[h].finishedAt)).toBeGreaterThanOrEqual(Date.parse(byHost[h].startedAt));
    }
    expect(byHost.h3).toMatchObject({ state: 'failed', exitCode: 7, stdout: 'out:h3\n', stderr: 'err:h3\n' });
  });

  it('passes cwd and env to the command', async () => {
    const task = await w.runAndWait({
      command: 'pwd; echo "$GREETING"',
      hosts: ['h1'],
      cwd: '/tmp',
      env: { GREETING: 'hello there' },
    });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: '/tmp\nhello there\n' });
    expect(task.envNames).toEqual(['GREETING']);
  });

  it('reports a missing cwd as error without running anything', async () => {
    const task = await w.runAndWait({ command: 'echo ran', hosts: ['h2'], cwd: '/nonexistent/dir' });
    expect(task.results[0].state).toBe('error');
    expect(task.results[0].reason).toMatch(/nonexistent/);
    expect(task.results[0].stdout).toBe('');
  });

  it('prints the task id at once with `warren run`, and the results with `warren check --wait`', async () => {
    const run = await w.cli(['run', `sleep 1; ${COMMAND}`, '--hosts', 'h1', 'h2', 'h3']);
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect(id).toMatch(/^t_[a-z0-9]+$/);

    const check = await w.cli(['check', id, '--wait']);
    expect(check.code).toBe(1); // h3 failed
    expect(check.stdout).toMatch(/^h1\s+succeeded\s+exit 0/m);
    expect(check.stdout).toMatch(/^h3\s+failed\s+exit 7/m);
    expect(check.stdout).toContain('out:h2');
    expect(check.stdout).toContain('err:h3');
    expect(check.stdout).toMatch(/3 hosts: 2 succeeded, 1 failed/);
    expect(check.stdout).toMatch(/failed \(1\): h3/);

    const json = await w.cli(['check_task', id, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).results).toHaveLength(3);
  });

  it('exits 0 from `warren run --wait` when every host succeeded, and 1 when one did not', async () => {
    const ok = await w.cli(['run', 'echo fine', '--hosts', 'h1', 'h2', '--wait']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/2 hosts: 2 succeeded/);
    const bad = await w.cli(['run', 'exit 3', '--hosts', 'h1', 'h2', '--wait', '--timeout', '10s']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/failed \(2\): h\[1-2\]/);
  });

  it('lists the agents with `warren hosts` and the tasks with `warren tasks`', async () => {
    const hosts = await w.cli(['hosts', '--json']);
    expect(hosts.code).toBe(0);
    const list = JSON.parse(hosts.stdout).hosts.map((h: any) => [h.host, h.status]);
    expect(list).toEqual([
      ['h1', 'online'],
      ['h2', 'online'],
      ['h3', 'online'],
    ]);
    const tasks = await w.cli(['tasks', '--limit', '2']);
    expect(tasks.code).toBe(0);
    expect(tasks.stdout).toMatch(/t_[a-z0-9]+/);
  });

  it('refuses invalid tasks with 400 naming each bad field, and 404 for an unknown task', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ hosts: ['h1'] }, /command/],
      [{ command: 'true', hosts: [] }, /hosts should not be empty/],
      [{ command: 'true', hosts: ['h1'], timeoutMs: -5 }, /timeoutMs/],
      [{ command: 'true', hosts: ['h1'], bogus: 1 }, /property bogus should not exist/],
      [{ command: 'true', hosts: ['bad host!'] }, /hosts/],
      [{ command: 'true', hosts: ['h1'], env: { 'BAD-NAME': 'x' } }, /env/],
    ];
    for (const [body, re] of cases) {
      const res = await w.api('POST', '/v1/tasks', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.message.join('\n')).toMatch(re);
    }
    expect((await w.api('GET', '/v1/tasks/t_doesnotexist')).status).toBe(404);
    const cli = await w.cli(['check', 't_doesnotexist']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/not found/);
  });

  it('exits 3 when the controller cannot be reached', async () => {
    const r = await w.cli(['check', 't_x'], { WARREN_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach/);
  });
});
