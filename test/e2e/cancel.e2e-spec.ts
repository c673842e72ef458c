import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupAlive, sleep, until, Warren } from './harness';

/** Cancel kills what runs (the whole process tree) and stops what has not started, even on a host that is offline now. */
describe('cancel', () => {
  const w = new Warren();
  const pidOf = async (agent: string, taskId: string) => {
    const line = await w.agents.get(agent)!.waitFor(new RegExp(`"taskId":"${taskId}".*"invocation started"`), 10_000);
    return JSON.parse(line).pid as number;
  };

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('c1', {}, ['--concurrency', '1']);
    await w.startAgent('c2');
  });
  afterAll(() => w.teardown());

  it('kills a running process tree and cancels the command queued behind it, which never runs', async () => {
    const marker = join(w.dir, 'queued-ran');
    const running = await w.api('POST', '/v1/tasks', {
      command: 'sleep 30 & sleep 30 & wait',
      hosts: ['c1'],
      killGraceMs: 500,
    });
    const pid = await pidOf('c1', running.body.id);
    const queued = await w.api('POST', '/v1/tasks', { command: `touch ${marker}`, hosts: ['c1'] });
    expect(groupAlive(pid)).toBe(true);
    // The queued one first: it waits on the agent for the only slot, which the kill would free.
    const q = await w.api('POST', `/v1/tasks/${queued.body.id}/cancel`, {});
    expect(q.status).toBe(200);
    const qd = (await w.api('GET', `/v1/tasks/${queued.body.id}?waitMs=10000`)).body;
    expect(qd.results[0].state).toBe('cancelled');

    const t0 = Date.now();
    const r = await w.cli(['cancel', running.body.id]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${running.body.id}: 1 running, being killed: c1`));
    await until(() => !groupAlive(pid), 5_000);
    const killedMs = Date.now() - t0;
    const done = (await w.api('GET', `/v1/tasks/${running.body.id}?waitMs=10000`)).body;
    expect(done.state).toBe('cancelled');
    expect(done.results[0]).toMatchObject({ state: 'cancelled', reason: 'cancelled by e2e' });
    await sleep(500);
    expect(existsSync(marker)).toBe(false);
    console.log(`cancel: process tree gone ${killedMs} ms after \`warren cancel\``);
  });

  it('a command queued for an offline host is cancelled and never runs when the host comes back', async () => {
    const marker = join(w.dir, 'offline-ran');
    await w.agents.get('c2')!.stop('SIGTERM');
    const t = await w.api('POST', '/v1/tasks', {
      command: `touch ${marker}`,
      hosts: ['c2'],
      deliveryTimeoutMs: 60_000,
    });
    const c = await w.api('POST', `/v1/tasks/${t.body.id}/cancel`, {});
    expect(c.body).toMatchObject({ cancelled: ['c2'], killing: [], state: 'cancelled' });
    await w.startAgent('c2');
    await w.agents.get('c2')!.waitFor(/"cancel applied"/, 10_000);
    await w.agents.get('c2')!.waitFor(/cancelled before it started/, 10_000);
    await sleep(500);
    expect(existsSync(marker)).toBe(false);
    const after = (await w.api('GET', `/v1/tasks/${t.body.id}`)).body;
    expect(after).toMatchObject({ state: 'cancelled' });
    expect(after.results[0]).toMatchObject({ state: 'cancelled' });
    // the host still works
    const ok = await w.runAndWait({ command: 'echo alive', hosts: ['c2'] });
    expect(ok.results[0]).toMatchObject({ state: 'succeeded', stdout: 'alive\n' });
  });

  it('refuses to cancel for a viewer (403), on hosts not in the task (422), and says when nothing is left', async () => {
    const t = await w.runAndWait({ command: 'true', hosts: ['c2'] });
    const viewer = w.createToken('cancel-viewer', 'viewer');
    expect((await w.api('POST', `/v1/tasks/${t.id}/cancel`, {}, { token: viewer })).status).toBe(403);
    expect((await w.api('POST', `/v1/tasks/${t.id}/cancel`, { hosts: ['c1'] })).status).toBe(422); // c1 is not a host of that task
    expect((await w.api('POST', '/v1/tasks/t_nosuchtask00/cancel', {})).status).toBe(404);
    const r = await w.cli(['cancel', t.id]);
    expect(r.stdout).toContain('nothing left to cancel');
  });
});
