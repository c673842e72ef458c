import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import * as amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentChunksQueue, agentControlQueue, agentQueue } from '@warren/protocol';
import { sleep, until, Warren } from './harness';

/** Simulated hosts in all, answered by {@link SIMULATORS} processes of the benchmark's simulator. */
const HOSTS = 2_000;
const SIMULATORS = 2;
const ROOT = resolve(__dirname, '../..');

/**
 * One task to 2,000 hosts (the benchmark's simulated agents: the real protocol, signed both ways,
 * no spawning), through a real controller on the shared broker: every host that is online when the
 * task is posted ends `succeeded` (none `undelivered` for want of a controller that keeps up), and
 * the controller answers `/healthz` throughout. The bench's scale section measures the same at up
 * to 10,000 hosts (docs/performance.md, "Scale"); this is the size CI affords.
 */
describe('scale: one task to 2,000 simulated hosts', () => {
  const w = new Warren();
  const sims: ChildProcess[] = [];
  const hosts: string[] = [];

  beforeAll(async () => {
    await w.startController({ WARREN_LOG_LEVEL: 'info' });
    const per = HOSTS / SIMULATORS;
    await Promise.all(
      Array.from({ length: SIMULATORS }, async (_, i) => {
        const prefix = `s${String.fromCharCode(97 + i)}`;
        for (let k = 1; k <= per; k++) hosts.push(`${prefix}${String(k).padStart(4, '0')}`);
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            resolve(ROOT, 'bench/sim-agents.ts'),
            ...['--namespace', w.ns, '--count', String(per), '--prefix', prefix],
            ...['--broker', w.brokerUrl, '--trust', w.controllerPublicKey],
          ],
          { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        sims.push(child);
        let out = '';
        child.stderr!.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
        await new Promise<void>((ready, fail) => {
          child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && ready());
          child.on('exit', (code) => fail(new Error(`simulator ${prefix} exited ${code}: ${out}`)));
        });
      }),
    );
    const online = async () => {
      const { body } = await w.api('GET', '/v1/hosts');
      return (body.hosts as { status: string }[]).filter((h) => h.status === 'online').length;
    };
    await until(async () => (await online()) === HOSTS, 240_000, 500);
  }, 420_000);

  afterAll(async () => {
    for (const s of sims) s.kill('SIGKILL');
    // The simulated hosts' queues, 8 at a time (the harness deletes those of real agents only).
    const conn = await amqplib.connect(w.brokerUrl, { noDelay: true });
    const queues = hosts.flatMap((h) => [agentQueue(w.ns, h), agentControlQueue(w.ns, h), agentChunksQueue(w.ns, h)]);
    await Promise.all(
      Array.from({ length: 8 }, async (_, lane) => {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        for (let i = lane; i < queues.length; i += 8) await ch.deleteQueue(queues[i]).catch(() => undefined);
        await ch.close().catch(() => undefined);
      }),
    );
    await conn.close();
    await w.teardown();
  }, 180_000);

  it('every online host ends succeeded, and /healthz answers throughout', async () => {
    const unanswered: string[] = [];
    let probes = 0;
    let running = true;
    const probe = (async () => {
      while (running) {
        probes++;
        const r = await fetch(`${w.url}/healthz`, { signal: AbortSignal.timeout(5_000) }).catch((e: Error) => e);
        if (r instanceof Error || r.status !== 200) unanswered.push(r instanceof Error ? r.message : String(r.status));
        await sleep(100);
      }
    })();
    try {
      const res = await w.api('POST', '/v1/tasks', { command: 'true', hosts });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const id = res.body.id as string;
      const task = await until(
        async () => {
          const r = await w.api('GET', `/v1/tasks/${id}?waitMs=20000`);
          return r.body.state === 'completed' ? r.body : null;
        },
        180_000,
        0,
      );
      expect(task.summary.byState).toEqual({ succeeded: HOSTS });
      expect((task.results as { host: string }[]).map((r) => r.host).sort()).toEqual([...hosts].sort());
    } finally {
      running = false;
      await probe;
    }
    expect(probes).toBeGreaterThan(0);
    expect(unanswered).toEqual([]);
  }, 240_000);
});
