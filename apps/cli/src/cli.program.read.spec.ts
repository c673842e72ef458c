import { describe, expect, it } from 'vitest';
import { cli, done, taskOf, useFakeController } from './cli.program.fixtures';
import { hostView } from './render/task.fixtures';

describe('warren check, hosts and tasks against a controller over HTTP', () => {
  const ctl = useFakeController();

  it('check of a running task shows what is there, says it is still running, and exits 4', async () => {
    ctl.route = () => ({
      status: 200,
      body: taskOf([done('a', 'succeeded', 0), { ...done('b', 'pending', null), startedAt: null }], 'running'),
    });
    const r = await cli(['check', 't_abc', '--url', ctl.url]);
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
    const r = await cli(['check_task', 't_nope'], { WARREN_URL: ctl.url });
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
    const hosts = await cli(['hosts', '--url', ctl.url]);
    expect(hosts.code).toBe(0);
    expect(hosts.stdout.split('\n')[0]).toMatch(/^HOST\s+STATUS\s+TRUST\s+LABELS\s+VERSION\s+RUNNING\s+LAST SEEN$/);
    expect(hosts.stdout.split('\n')[1]).toMatch(/^web1\s+online\s+pending\s+role=web\s+0\.1\.0\s+1\/4\s+[34]s ago$/);
    const tasks = await cli(['tasks', '--limit', '5', '--url', ctl.url]);
    expect(tasks.code).toBe(0);
    expect(ctl.seen.at(-1)?.url).toBe('/v1/tasks?limit=5');
    const row = tasks.stdout.split('\n')[1];
    expect(row).toMatch(/^t_abc\s+completed\s+3\s+2 succeeded, 1 failed\s+\S+ ago\s+echo x+…$/);
    expect(row.slice(row.indexOf('echo'))).toHaveLength(50);
  });
});
