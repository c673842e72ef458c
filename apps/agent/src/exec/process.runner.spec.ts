import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { captureBytes } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { buildBaseEnv } from '../config/base-env.builder';
import { ProcessRunner } from './process.runner';
import type { RunSpec } from './run.types';

const MiB = 1024 * 1024;
const runner = new ProcessRunner({ baseEnv: buildBaseEnv(process.env), maxOutputBytes: MiB });
const spec = (command: string, over: Partial<RunSpec> = {}): RunSpec => ({
  command,
  cwd: null,
  env: {},
  timeoutMs: 10_000,
  killGraceMs: 1_000,
  ...over,
});
const run = (command: string, over: Partial<RunSpec> = {}) => runner.start(spec(command, over)).outcome;

/**
 * Processes of group `pgid` that are still running. Zombies do not count: they are dead, and where
 * PID 1 does not reap orphans (as in some containers) they linger until the container ends.
 */
function liveMembers(pgid: number): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,stat=,comm='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, g, stat]) => Number(g) === pgid && stat !== undefined && !stat.startsWith('Z'))
    .map((f) => f.join(' '));
}

/**
 * A full GC, twice with a pause between, so that buffers freed by the first are also released from
 * `arrayBuffers` accounting: what is measured afterwards is what is still referenced.
 */
async function fullGc(): Promise<() => Promise<void>> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return async () => {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    gc();
  };
}

describe('ProcessRunner', () => {
  it('reports a non-zero exit as failed, with stdout and stderr captured separately', async () => {
    const o = await run('echo hi; echo err >&2; exit 3');
    expect(o).toMatchObject({ state: 'failed', exitCode: 3, signal: null, reason: null });
    expect(o.stdout).toEqual({ data: 'hi\n', utf8: true, bytes: 3, truncated: false });
    expect(o.stderr).toEqual({ data: 'err\n', utf8: true, bytes: 4, truncated: false });
    expect(o.durationMs).toBeGreaterThanOrEqual(0);
    expect(o.finishedAt).toBeGreaterThanOrEqual(o.startedAt!);
  });

  it('gives the command /dev/null as stdin, or the stdinPath file; a missing one is an error, not a run', async () => {
    expect((await run('readlink /proc/self/fd/0')).stdout.data).toBe('/dev/null\n');
    const dir = mkdtempSync(join(tmpdir(), 'warren-stdin-'));
    try {
      const file = join(dir, 'in');
      writeFileSync(file, 'line 1\nline 2\n');
      expect(await run('wc -l', { stdinPath: file })).toMatchObject({ state: 'succeeded', stdout: { data: '2\n' } });
      expect(await run('cat', { stdinPath: join(dir, 'missing') })).toMatchObject({
        state: 'error',
        reason: expect.stringContaining('ENOENT'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts how long each start held the event loop (the spawn), in ms', async () => {
    const own = new ProcessRunner({ baseEnv: buildBaseEnv(process.env), maxOutputBytes: MiB });
    expect(own.startTimes).toEqual({ count: 0, p50: 0, p99: 0, max: 0 });
    await own.start(spec('true')).outcome;
    await own.start(spec('true')).outcome;
    const t = own.startTimes;
    expect(t.count).toBe(2);
    expect(t.p50).toBeGreaterThan(0);
    expect(t.max).toBeGreaterThanOrEqual(t.p99);
    expect(t.max).toBeLessThan(1_000);
  });

  it('reports exit 0 as succeeded and runs in the given cwd', async () => {
    const h = runner.start(spec('pwd', { cwd: '/tmp' }));
    expect(h.pid).toBeGreaterThan(1);
    expect(await h.outcome).toMatchObject({ state: 'succeeded', exitCode: 0, stdout: { data: '/tmp\n' } });
  });

  it('reports death by a signal it did not send as failed, naming the signal', async () => {
    expect(await run('kill -KILL $$')).toMatchObject({ state: 'failed', exitCode: null, signal: 'SIGKILL' });
  });

  it('marks a timeout timed_out and kills the whole process group, background children included', async () => {
    const h = runner.start(spec("sh -c 'sleep 100 & sleep 100'", { timeoutMs: 300, killGraceMs: 300 }));
    const pgid = h.pid!;
    await new Promise((r) => setTimeout(r, 100));
    expect(liveMembers(pgid).length).toBeGreaterThanOrEqual(2); // the shell's tree is really there
    const o = await h.outcome;
    expect(o).toMatchObject({ state: 'timed_out', exitCode: null, reason: 'killed after 300 ms timeout' });
    expect(o.durationMs).toBeGreaterThanOrEqual(290);
    expect(o.durationMs).toBeLessThan(2_000);
    expect(liveMembers(pgid)).toEqual([]);
  });

  it('SIGKILLs a group that ignores SIGTERM once the grace has passed', async () => {
    const h = runner.start(spec("trap '' TERM; sleep 100; echo survived", { timeoutMs: 300, killGraceMs: 300 }));
    const o = await h.outcome;
    expect(o).toMatchObject({ state: 'timed_out', signal: 'SIGKILL' });
    expect(o.durationMs).toBeGreaterThanOrEqual(580); // timeout + grace: SIGTERM did not end it
    expect(o.stdout.data).toBe('');
    expect(liveMembers(h.pid!)).toEqual([]);
  });

  it('keeps at most the cap of a 50 MiB output in memory, counting every byte', async () => {
    const gc = await fullGc();
    await gc();
    const before = process.memoryUsage();
    const dir = mkdtempSync(join(tmpdir(), 'warren-runner-'));
    const mark = join(dir, 'written');
    const h = runner.start(spec(`head -c 52428800 /dev/zero; echo done >&2; touch ${mark}; sleep 0.3`));
    // Once all 50 MiB are written but the run still goes on, only what the capture holds survives a GC.
    while (!existsSync(mark)) await new Promise((r) => setTimeout(r, 10));
    await gc();
    const held = process.memoryUsage().arrayBuffers - before.arrayBuffers;
    const o = await h.outcome;
    rmSync(dir, { recursive: true, force: true });
    expect(o.state).toBe('succeeded');
    expect(o.stdout.bytes).toBe(52_428_800);
    expect(o.stdout.truncated).toBe(true);
    expect(captureBytes(o.stdout).equals(Buffer.alloc(MiB))).toBe(true);
    expect(o.stderr).toEqual({ data: 'done\n', utf8: true, bytes: 5, truncated: false });
    expect(held).toBeLessThan(8 * MiB);

    // The first big read grew V8's young generation and buffer pools once (about 30 MiB, even when
    // every byte is discarded); a second run must reuse them, not add another 50 MiB. RSS of a
    // vitest worker is noisy (seen: +32 MiB), so the bound sits below the 50 MiB a leak would add.
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const again = await run('head -c 52428800 /dev/zero');
    clearInterval(sampler);
    expect(again.stdout).toMatchObject({ bytes: 52_428_800, truncated: true });
    expect(Math.max(peak, process.memoryUsage().rss) - rssBefore).toBeLessThan(45 * MiB);
  });

  it('reports a missing cwd as error without starting anything', async () => {
    const h = runner.start(spec('echo ran', { cwd: '/nonexistent/dir' }));
    expect(h.pid).toBeNull();
    const o = await h.outcome;
    expect(o).toMatchObject({
      state: 'error',
      exitCode: null,
      startedAt: null,
      durationMs: null,
      stdout: { data: '' },
    });
    expect(o.reason).toMatch(/cwd \/nonexistent\/dir does not exist/);
  });

  it('reports a command the OS cannot be given (a NUL byte) as error instead of throwing', async () => {
    for (const h of [runner.start(spec('echo a\u0000b')), runner.start(spec('true', { env: { X: 'a\u0000b' } }))]) {
      expect(h.pid).toBeNull();
      expect(await h.outcome).toMatchObject({ state: 'error', reason: expect.stringMatching(/^could not start/) });
    }
  });

  it("passes the command's env over the base env, and never the agent's WARREN_* variables", async () => {
    const r = new ProcessRunner({
      baseEnv: buildBaseEnv({ ...process.env, WARREN_BROKER_URL: 'amqp://u:secret@x', BASE_ONLY: 'b' }),
      maxOutputBytes: 1024,
    });
    const o = await r.start(
      spec('echo "$GREETING|$BASE_ONLY|${WARREN_BROKER_URL-unset}"', { env: { GREETING: 'hello there' } }),
    ).outcome;
    expect(o.stdout.data).toBe('hello there|b|unset\n');
  });

  it('finishes promptly when a background child keeps stdout open after the shell exits', async () => {
    const t0 = Date.now();
    const h = runner.start(spec('sleep 5 & echo started'));
    const o = await h.outcome;
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(o).toMatchObject({ state: 'succeeded', exitCode: 0, stdout: { data: 'started\n' } });
    process.kill(-h.pid!, 'SIGKILL'); // the test's own daemon: not the runner's to kill
  });

  it('cancels every running command on killAll, killing their groups', async () => {
    const a = runner.start(spec('sleep 100'));
    const b = runner.start(spec("trap '' TERM; sleep 100", { killGraceMs: 200 }));
    await new Promise((r) => setTimeout(r, 50));
    expect(runner.running).toBe(2);
    await runner.killAll('agent shutting down');
    for (const h of [a, b]) {
      expect(await h.outcome).toMatchObject({ state: 'cancelled', reason: 'agent shutting down' });
      expect(liveMembers(h.pid!)).toEqual([]);
    }
    expect(runner.running).toBe(0);
  });
});

describe('ProcessRunner running count', () => {
  it('reports a command as running from before its spawn to its exit, and one that cannot start as none', async () => {
    const counts: number[] = [];
    const r = new ProcessRunner({
      baseEnv: buildBaseEnv(process.env),
      maxOutputBytes: MiB,
      onRunningChange: (n) => counts.push(n),
    });
    const first = r.start(spec('sleep 0.2'));
    expect(counts).toEqual([1, 1]); // before the fork (so its loop delay is sampled), and after
    const second = r.start(spec('true'));
    expect(counts).toEqual([1, 1, 2, 2]);
    await Promise.all([first.outcome, second.outcome]);
    expect(counts.slice(4)).toEqual([1, 0]);
    expect(r.startTimes.count).toBe(2);
    const refused = r.start(spec('true', { cwd: '/nonexistent/dir' }));
    await refused.outcome;
    expect(counts.at(-1)).toBe(0);
  });
});
