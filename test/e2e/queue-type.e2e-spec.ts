import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { agentControlQueue, agentQueue, resultsQueue, undeliveredQueue } from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueTypeOf } from '../support/queue-type';
import { Proc, sleep, until, Warren } from './harness';

const ROOT = resolve(__dirname, '../..');

/** The JSON log lines of `p` whose `msg` matches `re`. */
const logLines = (p: Proc, re: RegExp) =>
  p.output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown })
    .filter((l) => re.test(l.msg));

/** A whole installation on quorum queues (`WARREN_QUEUE_TYPE=quorum`), on the shared single-node broker. */
describe('--queue-type quorum: controller and agents on quorum queues', () => {
  const w = new Warren({ queueType: 'quorum' });

  beforeAll(async () => {
    await w.startController();
    await Promise.all([w.startAgent('q1'), w.startAgent('q2')]);
  });
  afterAll(() => w.teardown());

  it('runs a task end to end, every durable queue of the installation a quorum queue', async () => {
    const task = await w.runAndWait({ command: 'echo "$((6 * 7))"', hosts: ['q1', 'q2'] });
    expect(task.results.map((r) => [r.host, r.state, r.stdout])).toEqual([
      ['q1', 'succeeded', '42\n'],
      ['q2', 'succeeded', '42\n'],
    ]);
    for (const q of [
      resultsQueue(w.ns),
      undeliveredQueue(w.ns),
      agentQueue(w.ns, 'q1'),
      agentControlQueue(w.ns, 'q1'),
      agentQueue(w.ns, 'q2'),
      agentControlQueue(w.ns, 'q2'),
    ])
      expect(`${q} ${await queueTypeOf(w.brokerUrl, q)}`).toBe(`${q} quorum`);
  });

  it('a command for a stopped agent expires from its quorum inbox into undelivered (dead-lettered at least once), and never runs later', async () => {
    const marker = join(w.dir, 'late-run');
    await w.startAgent('q3');
    await w.agents.get('q3')!.stop('SIGTERM');
    const task = await w.runAndWait({ command: `touch ${marker}`, hosts: ['q3'], deliveryTimeoutMs: 1500 });
    expect(task.results[0].state).toBe('undelivered');
    // The dead letter decided it, not the deadline sweeper (which gives another reason).
    expect(task.results[0].reason).toBe('expired in the host queue: no agent took it within the delivery timeout');
    // The line is written before the task completes, but reaches this process through a pipe, maybe after the answer.
    await w.controller!.waitFor(/"command expired unread"/, 5_000);
    const expired = logLines(w.controller!, /^command expired unread$/);
    expect(expired.map((l) => l.correlationId)).toEqual([task.results[0].invocationId]);
    await w.startAgent('q3');
    await sleep(1000);
    expect(existsSync(marker)).toBe(false);
  });

  it('cancels a running command, and one queued for an offline host through its quorum control queue', async () => {
    const running = await w.api('POST', '/v1/tasks', { command: 'sleep 30', hosts: ['q1'], killGraceMs: 500 });
    await w.agents.get('q1')!.waitFor(new RegExp(`"taskId":"${running.body.id}".*"invocation started"`), 10_000);
    expect((await w.api('POST', `/v1/tasks/${running.body.id}/cancel`, {})).status).toBe(200);
    const done = (await w.api('GET', `/v1/tasks/${running.body.id}?waitMs=10000`)).body;
    expect(done.results[0]).toMatchObject({ state: 'cancelled' });

    const marker = join(w.dir, 'offline-ran');
    await w.agents.get('q2')!.stop('SIGTERM');
    const t = await w.api('POST', '/v1/tasks', {
      command: `touch ${marker}`,
      hosts: ['q2'],
      deliveryTimeoutMs: 60_000,
    });
    const c = await w.api('POST', `/v1/tasks/${t.body.id}/cancel`, {});
    expect(c.body).toMatchObject({ cancelled: ['q2'], state: 'cancelled' });
    await w.startAgent('q2');
    await w.agents.get('q2')!.waitFor(/"cancel applied"/, 10_000);
    await w.agents.get('q2')!.waitFor(/cancelled before it started/, 10_000);
    await sleep(500);
    expect(existsSync(marker)).toBe(false);
  });
});

/** Queues of one type exist; a controller or an agent configured with the other meets them. */
describe('a process meeting queues of the other type', () => {
  const w = new Warren(); // classic, the default
  const dir = mkdtempSync(join(tmpdir(), 'warren-mismatch-'));
  const procs: Proc[] = [];

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('m1');
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await w.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Expects exactly one error line about the classic results queue, and retries going on quietly. */
  async function expectOneClearLine(p: Proc): Promise<void> {
    const re = new RegExp(`^queue ${resultsQueue(w.ns).replace(/\./g, '\\.')} exists as a classic queue`);
    await p.waitFor(/exists as a classic queue/, 15_000);
    // Several retries later (debug lines), still one error line, and the process alive.
    await until(() => logLines(p, /^queue type mismatch persists; retrying$/).length >= 3, 20_000);
    const errors = logLines(p, /.*/).filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ queue: resultsQueue(w.ns), found: 'classic', configured: 'quorum' });
    expect(errors[0].msg).toMatch(re);
    expect(errors[0].msg).toContain('docs/scaling.md, "Queue type: classic or quorum"');
    expect(logLines(p, /^amqp connect failed; retrying$/)).toEqual([]);
    expect(p.alive).toBe(true);
  }

  it('a controller started with --queue-type quorum logs one clear line, stays up, and says the broker is not ready', async () => {
    const p = new Proc(
      spawn(
        process.execPath,
        [
          join(ROOT, 'bin/warren-controller.js'),
          ...['--port', '0', '--state-dir', dir, '--db', join(dir, 'c.db'), '--namespace', w.ns],
          ...['--broker', w.brokerUrl, '--queue-type', 'quorum'],
        ],
        { env: { ...process.env, WARREN_LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    procs.push(p);
    const port = JSON.parse(await p.waitFor(/"controller listening"/)).port as number;
    await expectOneClearLine(p);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'degraded', broker: 'disconnected' });
    // The classic installation it met is untouched: its agent still runs commands.
    const task = await w.runAndWait({ command: 'echo still', hosts: ['m1'] });
    expect(task.results[0]).toMatchObject({ state: 'succeeded', stdout: 'still\n' });
  });

  it('an agent started with --queue-type quorum logs one clear line, stays up and never comes online', async () => {
    const p = await w.startAgent('m2', { WARREN_QUEUE_TYPE: 'quorum' }, [], { wait: false });
    await expectOneClearLine(p);
    const { hosts } = (await w.api('GET', '/v1/hosts')).body as { hosts: { host: string; status: string }[] };
    expect(hosts.find((h) => h.host === 'm2')?.status).not.toBe('online');
    expect(await queueTypeOf(w.brokerUrl, agentQueue(w.ns, 'm2'))).toBe('missing');
  });
});
