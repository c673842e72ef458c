import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, Warren } from './harness';

/** Six agents: four web hosts in two zones, two db hosts. */
const AGENTS: [string, string][] = [
  ['web1', 'role=web,zone=eu'],
  ['web2', 'role=web,zone=eu'],
  ['web3', 'role=web,zone=us'],
  ['web4', 'role=web,zone=us'],
  ['db1', 'role=db,zone=eu'],
  ['db2', 'role=db,zone=us'],
];

describe('targeting by name, range, glob, label and all', () => {
  const w = new Warren();
  const hostsOf = (task: any) => task.results.map((r: any) => r.host).sort();
  const taskCount = async () => (await w.api('GET', '/v1/tasks?limit=1000')).body.tasks.length;

  beforeAll(async () => {
    await w.startController();
    await Promise.all(AGENTS.map(([h, labels]) => w.startAgent(h, {}, ['--labels', labels])));
  }, 60_000);
  afterAll(() => w.teardown());

  it('runs on the hosts whose labels match every --label given', async () => {
    const r = await w.cli(['run', 'echo hi', '--label', 'role=web', '--label', 'zone=eu', '--wait', '--json']);
    expect(r.code).toBe(0);
    expect(hostsOf(JSON.parse(r.stdout))).toEqual(['web1', 'web2']);
    const api = await w.runAndWait({ command: 'true', labels: { zone: 'us' } });
    expect(hostsOf(api)).toEqual(['db2', 'web3', 'web4']);
  });

  it('matches globs among online hosts, expands ranges, and combines them with labels as an intersection', async () => {
    expect(hostsOf(await w.runAndWait({ command: 'true', hosts: ['db*'] }))).toEqual(['db1', 'db2']);
    const range = await w.cli(['run', 'hostname >/dev/null', '--hosts', 'web[1-3]', '--wait', '--json']);
    expect(range.code).toBe(0);
    expect(hostsOf(JSON.parse(range.stdout))).toEqual(['web1', 'web2', 'web3']);
    expect(hostsOf(await w.runAndWait({ command: 'true', hosts: ['*'], labels: ['zone=eu'] }))).toEqual([
      'db1',
      'web1',
      'web2',
    ]);
  });

  it('runs on every online host with --all', async () => {
    const r = await w.cli(['run', 'true', '--all', '--wait']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/6 hosts: 6 succeeded/);
  });

  it('refuses a target that matches nothing: 422 from the API, exit 2 from the CLI, and no task stored', async () => {
    const before = await taskCount();
    const api = await w.api('POST', '/v1/tasks', { command: 'true', hosts: ['cache*'] });
    expect(api.status).toBe(422);
    expect(api.body.message).toMatch(
      /^no host matches the target \(hosts cache\*\); nothing was sent\. 6 usable hosts are online/,
    );
    const labels = await w.api('POST', '/v1/tasks', { command: 'true', labels: { role: 'web', zone: 'ap' } });
    expect(labels.status).toBe(422);
    const cli = await w.cli(['run', 'true', '--label', 'role=mail', '--wait']);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/warren: no host matches the target \(labels role=mail\)/);
    expect(await taskCount()).toBe(before);
    const bad = await w.api('POST', '/v1/tasks', { command: 'true', hosts: ['web[3-1]'] });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/hosts: host pattern "web\[3-1\]": range 3-1 runs backwards/);
  });

  it('prints the resolved hosts with --dry-run and sends nothing', async () => {
    const before = await taskCount();
    const r = await w.cli(['run', 'reboot', '--hosts', 'web*', '--label', 'zone=us', '--dry-run']);
    expect(r).toMatchObject({ code: 0, stdout: '2 hosts: web[3-4]\n' });
    const json = await w.cli([
      'run',
      'reboot',
      '--all',
      '--concurrency',
      '50%',
      '--max-errors',
      '1',
      '--dry-run',
      '--json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      dryRun: true,
      count: 6,
      folded: 'db[1-2],web[1-4]',
      concurrency: 3,
      maxErrors: 1,
    });
    expect(await taskCount()).toBe(before);
  });

  it('asks before a run over the threshold; without a terminal it refuses unless --yes', async () => {
    const before = await taskCount();
    const refused = await w.cli(['run', 'true', '--all', '--confirm-over', '5', '--wait']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /not run: it would reach 6 hosts \(db\[1-2\],web\[1-4\]\), more than 5, and there is no terminal to confirm it; add --yes/,
    );
    const env = await w.cli(['run', 'true', '--hosts', 'web*'], { WARREN_CONFIRM_OVER: '3' });
    expect(env.code).toBe(2);
    expect(await taskCount()).toBe(before);
    const yes = await w.cli(['run', 'true', '--all', '--confirm-over', '5', '--yes', '--wait']);
    expect(yes.code).toBe(0);
    expect(yes.stdout).toMatch(/6 hosts: 6 succeeded/);
  });

  it('leaves out matching hosts that went offline, and says so', async () => {
    await w.agents.get('web4')!.stop();
    await until(async () =>
      (await w.api('GET', '/v1/hosts')).body.hosts.some((h: any) => h.host === 'web4' && h.status === 'offline'),
    );
    const dry = await w.cli(['run', 'true', '--hosts', 'web*', '--dry-run']);
    expect(dry.stdout).toBe('3 hosts: web[1-3]\nleft out (offline): web4\n');
    const run = await w.cli(['run', 'true', '--label', 'zone=us', '--wait']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/2 hosts: 2 succeeded/);
    expect(run.stderr).toContain('warren: left out 1 matching host (offline): web4');
    // Named explicitly, an offline host is still sent to (and ends undelivered).
    const named = await w.api('POST', '/v1/tasks', { command: 'true', hosts: ['web4'], dryRun: true });
    expect(named.body).toMatchObject({ hosts: ['web4'], count: 1 });
  });
});
