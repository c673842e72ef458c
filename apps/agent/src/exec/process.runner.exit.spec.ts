import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildBaseEnv } from '../config/base-env.builder';
import { ProcessRunner } from './process.runner';
import type { RunHandle, RunSpec } from './run.types';

// Issue 12, item 2: `timed_out`/`cancelled` only when the agent's signal ended the shell.
const runner = new ProcessRunner({ baseEnv: buildBaseEnv(process.env), maxOutputBytes: 4096 });
const spec = (command: string, over: Partial<RunSpec> = {}): RunSpec => ({
  command,
  cwd: null,
  env: {},
  timeoutMs: 10_000,
  killGraceMs: 1_000,
  ...over,
});

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.max(ms, 0));
const isZombie = (pid: number) => / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').slice(-200));

/**
 * Starts `s` and holds the event loop until its shell has exited and its timeout has passed. It
 * runs in a setImmediate callback, after which libuv runs due timers before it polls for the
 * SIGCHLD that reports the exit: the timeout fires first, every time, on a shell that already ended.
 */
function startAndMissTheExit(s: RunSpec): Promise<RunHandle> {
  return new Promise((resolve) =>
    setImmediate(() => {
      const t0 = Date.now();
      const h = runner.start(s);
      while (!isZombie(h.pid!)) sleepSync(1);
      sleepSync(s.timeoutMs + 50 - (Date.now() - t0));
      resolve(h);
    }),
  );
}

describe('ProcessRunner: the state says how the shell ended', () => {
  it('reports a shell that exited by itself by its status, even when its timeout fires before its exit is read', async () => {
    for (const killGraceMs of [0, 1_000]) {
      const ok = await startAndMissTheExit(spec('echo done', { timeoutMs: 20, killGraceMs }));
      expect(await ok.outcome).toMatchObject({ state: 'succeeded', exitCode: 0, signal: null, reason: null });
      const bad = await startAndMissTheExit(spec('exit 4', { timeoutMs: 20, killGraceMs }));
      expect(await bad.outcome).toMatchObject({ state: 'failed', exitCode: 4, signal: null, reason: null });
    }
  });

  it('reports a shell that exited by itself as such when a cancel comes before its exit is read', async () => {
    const h = await startAndMissTheExit(spec('true', { timeoutMs: 0 }));
    h.cancel('cancelled by test');
    expect(await h.outcome).toMatchObject({ state: 'succeeded', exitCode: 0, reason: null });
  });

  it('never says timed_out without our signal: `sleep 0.195; echo done` with a 200 ms timeout, 20 times', async () => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < 20; i++) {
      const o = await runner.start(spec('sleep 0.195; echo done', { timeoutMs: 200, killGraceMs: 0 })).outcome;
      seen[o.state] = (seen[o.state] ?? 0) + 1;
      if (o.state === 'succeeded') expect(o).toMatchObject({ exitCode: 0, signal: null, stdout: { data: 'done\n' } });
      else expect(o).toMatchObject({ state: 'timed_out', exitCode: null, signal: 'SIGKILL' });
    }
    console.log('sleep 0.195 vs a 200 ms timeout, 20 runs:', seen);
  });

  it('is timed_out when the shell traps our SIGTERM and exits, naming the signal and its status', async () => {
    const o = await runner.start(spec("trap 'exit 3' TERM; sleep 5 & wait", { timeoutMs: 200, killGraceMs: 2_000 }))
      .outcome;
    expect(o).toMatchObject({
      state: 'timed_out',
      exitCode: 3,
      signal: null,
      reason: 'killed after 200 ms timeout (it exited 3 on SIGTERM)',
    });
  });
});
