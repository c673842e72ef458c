import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, until, Warren } from './harness';

/**
 * Presence with the default heartbeat (5 s, offline after 3 missed) shows a dead agent offline
 * within 15 s; an agent shuts down gracefully on SIGTERM, leaving nothing half-done. (The
 * controller's SIGTERM, with results in flight, is in `faults/process-crash.e2e-spec.ts`.)
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
});
