import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCgroupParent } from '../support/agent-cgroups';
import { sleep, until, Warren } from './harness';

/** A live (not zombie) process whose command line is `args`, from the process table (/proc). */
function liveProcesses(args: string): { pid: number; cgroup: string }[] {
  const found: { pid: number; cgroup: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (cmdline !== args) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      found.push({ pid: Number(entry), cgroup: readFileSync(`/proc/${entry}/cgroup`, 'utf8') });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/**
 * Issue 12, item 3: timeout and cancel end everything a command started, `setsid` daemons included
 * (a cgroup v2 per invocation); a normal exit leaves daemons alone; without cgroups, the process
 * group is the boundary and a `setsid` daemon escapes it.
 */
describe('process tracking', () => {
  const w = new Warren();
  const ours = (host: string) => (p: { cgroup: string }) => p.cgroup.includes(`/warren.${w.ns}.${host}/`);

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('pt1');
    await w.startAgent('pt2', { WARREN_PROCESS_TRACKING: 'process-group' });
  });
  afterAll(() => w.teardown());

  it('logs at start that the agent tracks commands with cgroups, and where (or why not)', async () => {
    const line = JSON.parse(await w.agents.get('pt1')!.waitFor(/"process tracking"/));
    expect(line).toMatchObject({ processTracking: 'cgroup', path: join(agentCgroupParent()!, `warren.${w.ns}.pt1`) });
    const fallback = JSON.parse(await w.agents.get('pt2')!.waitFor(/"process tracking"/));
    expect(fallback).toMatchObject({
      processTracking: 'process-group',
      reason: 'process-group chosen by --process-tracking',
    });
  });

  it('a timeout kills a setsid daemon the command started (the input of issue 12)', async () => {
    const before = new Set(liveProcesses('sleep 1237').map((p) => p.pid));
    const t = await w.api('POST', '/v1/tasks', {
      command: 'setsid sleep 1237 </dev/null >/dev/null 2>&1 & sleep 1236',
      hosts: ['pt1'],
      timeoutMs: 2000,
    });
    expect(t.status).toBe(202);
    // The daemon is really there (the process table), before the timeout.
    const daemons = await until(() => {
      const found = liveProcesses('sleep 1237').filter((p) => !before.has(p.pid));
      return found.length > 0 && found.map((p) => p.pid);
    }, 5_000);
    const done = (await w.api('GET', `/v1/tasks/${t.body.id}?waitMs=15000`)).body;
    expect(done.results[0]).toMatchObject({ state: 'timed_out', reason: 'killed after 2000 ms timeout' });
    const alive = () => liveProcesses('sleep 1237').filter((p) => daemons.includes(p.pid));
    await until(() => alive().length === 0, 2_000).catch(() => undefined);
    expect(alive()).toEqual([]);
  });

  it('`warren cancel` kills a setsid daemon the command started', async () => {
    const t = await w.api('POST', '/v1/tasks', {
      command: 'setsid sleep 1247 </dev/null >/dev/null 2>&1 & sleep 1246',
      hosts: ['pt1'],
      killGraceMs: 500,
    });
    await until(() => liveProcesses('sleep 1247').some(ours('pt1')), 5_000);
    const r = await w.cli(['cancel', t.body.id]);
    expect(r.code).toBe(0);
    const done = (await w.api('GET', `/v1/tasks/${t.body.id}?waitMs=10000`)).body;
    expect(done.results[0]).toMatchObject({ state: 'cancelled' });
    await until(() => !liveProcesses('sleep 1247').some(ours('pt1')), 2_000);
  });

  it('a command that exits by itself leaves its setsid daemon running, and its cgroup goes when the daemon does', async () => {
    const done = await w.runAndWait({
      command: 'setsid sleep 1238 </dev/null >/dev/null 2>&1 & echo started',
      hosts: ['pt1'],
    });
    expect(done.results[0]).toMatchObject({ state: 'succeeded', exitCode: 0 });
    await sleep(500);
    const [daemon] = liveProcesses('sleep 1238').filter(ours('pt1'));
    expect(daemon).toBeDefined(); // left alone, as SSH does
    const cgroup = join(agentCgroupParent()!, daemon.cgroup.trim().split('::')[1].split('/').slice(-2).join('/'));
    expect(readdirSync(cgroup)).toContain('cgroup.procs');
    process.kill(daemon.pid, 'SIGKILL'); // the test's own daemon
    await until(() => !readdirSync(join(cgroup, '..')).includes(cgroup.split('/').pop()!), 5_000);
  });

  it('without cgroups (the fallback) the timeout kills the process group only: a setsid daemon survives', async () => {
    const t = await w.runAndWait({
      command: 'setsid sleep 1257 </dev/null >/dev/null 2>&1 & echo $!; sleep 1256',
      hosts: ['pt2'],
      timeoutMs: 1000,
    });
    expect(t.results[0]).toMatchObject({ state: 'timed_out' });
    const pid = Number(t.results[0].stdout.trim());
    await sleep(300);
    expect(liveProcesses('sleep 1257').map((p) => p.pid)).toContain(pid); // the documented limit
    process.kill(pid, 'SIGKILL');
  });
});
