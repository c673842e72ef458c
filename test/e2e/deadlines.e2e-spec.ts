import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupAlive, sleep, until, Warren } from './harness';

describe('deadlines: every invocation ends, and timeouts kill the whole process group', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await Promise.all(['d1', 'd2'].map((h) => w.startAgent(h)));
  });
  afterAll(() => w.teardown());

  it('marks `timed_out` and kills every process of the group, background children included', async () => {
    const pidFile = join(w.dir, 'tree.pid');
    const t0 = Date.now();
    const task = await w.runAndWait({
      command: `echo $$ > ${pidFile}; sh -c 'sleep 100 & sleep 100'`,
      hosts: ['d1'],
      timeoutMs: 2000,
      killGraceMs: 1000,
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(task.results[0].state).toBe('timed_out');
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    expect(pgid).toBeGreaterThan(1);
    await until(() => !groupAlive(pgid), 3000);
  });

  it('SIGKILLs a command that ignores SIGTERM once the grace has passed', async () => {
    const pidFile = join(w.dir, 'stubborn.pid');
    const task = await w.runAndWait({
      command: `trap '' TERM; echo $$ > ${pidFile}; sleep 100`,
      hosts: ['d2'],
      timeoutMs: 1000,
      killGraceMs: 1000,
    });
    const r = task.results[0];
    expect(r.state).toBe('timed_out');
    expect(r.durationMs).toBeGreaterThanOrEqual(1900); // timeout + grace: SIGTERM did not end it
    const pgid = Number(readFileSync(pidFile, 'utf8'));
    await until(() => !groupAlive(pgid), 3000);
    // Each signal is one structured line of the agent's log, with the task, the invocation and the pid.
    const kills = w.agents
      .get('d2')!
      .output.split('\n')
      .filter((l) => l.includes('"killing the run"'))
      .map((l) => JSON.parse(l));
    expect(kills.map((k) => [k.taskId, k.correlationId, k.pid, k.signal, k.state])).toEqual([
      [task.id, r.invocationId, pgid, 'SIGTERM', 'timed_out'],
      [task.id, r.invocationId, pgid, 'SIGKILL', 'timed_out'],
    ]);
  });

  it('marks an unknown host `unknown_host` in well under a second while the other hosts run', async () => {
    const t0 = Date.now();
    const { status, body } = await w.api('POST', '/v1/tasks', {
      command: 'sleep 2; echo done',
      hosts: ['d1', 'no-such-host'],
    });
    expect(status).toBe(202);
    const seen = await until(
      async () => {
        const t = (await w.api('GET', `/v1/tasks/${body.id}`)).body;
        const unknown = t.results.find((r: any) => r.host === 'no-such-host');
        return unknown.state === 'unknown_host' ? t : null;
      },
      1000,
      10,
    );
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(seen.state).toBe('running');
    expect(['pending', 'running']).toContain(seen.results.find((r: any) => r.host === 'd1').state);
    const done = (await w.api('GET', `/v1/tasks/${body.id}?waitMs=10000`)).body;
    expect(done.state).toBe('completed');
    expect(done.summary.byState).toEqual({ succeeded: 1, unknown_host: 1 });
  });

  it('marks a host whose agent is stopped `undelivered` after the delivery timeout, and never runs it later', async () => {
    const marker = join(w.dir, 'late-run');
    await w.startAgent('d3');
    await w.agents.get('d3')!.stop('SIGTERM');
    const t0 = Date.now();
    const task = await w.runAndWait({ command: `touch ${marker}`, hosts: ['d3'], deliveryTimeoutMs: 1500 });
    const elapsed = Date.now() - t0;
    expect(task.state).toBe('completed');
    expect(task.results[0].state).toBe('undelivered');
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(1500 + 5000);
    // The agent comes back: the expired command must not run.
    await w.startAgent('d3');
    await sleep(1000);
    expect(existsSync(marker)).toBe(false);
    const again = await w.runAndWait({ command: 'echo back', hosts: ['d3'] });
    expect(again.results[0]).toMatchObject({ state: 'succeeded', stdout: 'back\n' });
  });

  it('marks a command whose agent was SIGKILLed mid-run `lost` by its deadline, and the task ends', async () => {
    const pidFile = join(w.dir, 'orphan.pid');
    const agent = await w.startAgent('d4');
    const { body } = await w.api('POST', '/v1/tasks', {
      command: `echo $$ > ${pidFile}; sleep 30`,
      hosts: ['d4'],
      timeoutMs: 2000,
      killGraceMs: 500,
    });
    await until(async () => (await w.api('GET', `/v1/tasks/${body.id}`)).body.results[0].state === 'running', 5000);
    await agent.stop('SIGKILL');
    const t0 = Date.now();
    const task = (await w.api('GET', `/v1/tasks/${body.id}?waitMs=15000`)).body;
    expect(task.state).toBe('completed');
    expect(task.results[0].state).toBe('lost');
    expect(Date.now() - t0).toBeLessThan(2000 + 500 + 1000 + 2000);
    // The orphaned shell is not ours to keep: clean it up.
    try {
      process.kill(-Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      /* already gone */
    }
  });
});
