import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until, Warren } from './harness';

/**
 * Presence with the default heartbeat (5 s, offline after 3 missed) shows a dead agent offline
 * within 15 s; both processes shut down gracefully on SIGTERM, leaving nothing half-done.
 */
describe('presence and graceful shutdown', () => {
  const w = new Warren();
  const host = async (name: string) =>
    ((await w.api('GET', '/v1/hosts')).body.hosts as { host: string; status: string; lastSeen: string }[]).find(
      (h) => h.host === name,
    );

  beforeAll(async () => {
    await w.startController();
    // The default presence interval (the harness passes 1s: a later flag wins).
    await w.startAgent('p1', {}, ['--presence-interval', '5s']);
    await w.startAgent('p2');
    await w.startAgent('p3');
  });
  afterAll(() => w.teardown());

  it('shows an agent killed with SIGKILL offline within 15 s, with its last-seen time', async () => {
    await sleep(5_500); // let a heartbeat or two pass, so the kill lands at a random point of the period
    const agent = w.agents.get('p1')!;
    await agent.stop('SIGKILL');
    const t0 = Date.now();
    const offline = await until(
      async () => {
        const h = await host('p1');
        return h?.status === 'offline' ? h : null;
      },
      16_000,
      200,
    );
    const detectedMs = Date.now() - t0;
    expect(detectedMs).toBeLessThanOrEqual(15_000);
    expect(Date.parse(offline.lastSeen)).toBeLessThanOrEqual(t0);
    const listed = await w.cli(['hosts']);
    expect(listed.stdout).toMatch(/p1\s+offline\s+accepted/);
    expect(listed.stdout).toMatch(/p2\s+online\s+accepted/);
    console.log(`presence: SIGKILLed agent shown offline after ${detectedMs} ms (default 5 s heartbeat)`);
  }, 40_000);

  it('an agent on SIGTERM finishes its running command, reports it, says goodbye, exits 0', async () => {
    const t = await w.api('POST', '/v1/tasks', { command: 'sleep 1; echo done', hosts: ['p2'] });
    await w.agents.get('p2')!.waitFor(new RegExp(`"taskId":"${t.body.id}".*"invocation started"`));
    const agent = w.agents.get('p2')!;
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toBe(0);
    const done = (await w.api('GET', `/v1/tasks/${t.body.id}?waitMs=5000`)).body;
    expect(done.results[0]).toMatchObject({ state: 'succeeded', stdout: 'done\n' });
    // goodbye: offline at once, not after three missed heartbeats
    expect((await host('p2'))?.status).toBe('offline');
  });

  it('the controller on SIGTERM stops taking replies, exits 0, and a restart stores every result once', async () => {
    const t = await w.api('POST', '/v1/tasks', { command: 'sleep 0.5; echo fin', hosts: ['p3'] });
    expect(t.status).toBe(202);
    const controller = w.controller!;
    controller.child.kill('SIGTERM');
    expect(await controller.exited).toBe(0);
    const stopping = controller.output.slice(controller.output.indexOf('"shutting down"'));
    expect(stopping).toMatch(/"shutting down"/);
    expect(stopping).not.toMatch(/"level":(50|60)/); // no error logged while stopping
    await w.agents.get('p3')!.waitFor(new RegExp(`"taskId":"${t.body.id}".*"invocation finished"`));
    await w.startController();
    const done = (await w.api('GET', `/v1/tasks/${t.body.id}?waitMs=10000`)).body;
    expect(done).toMatchObject({ state: 'completed' });
    expect(done.results).toEqual([expect.objectContaining({ host: 'p3', state: 'succeeded', stdout: 'fin\n' })]);
  });
});
