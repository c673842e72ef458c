import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBaseEnv } from '../config/base-env.builder';
import { systemUserDatabase } from '../policy/user.database';
import { CgroupTracker } from './cgroup.tracker';
import { ProcessRunner } from './process.runner';
import type { RunSpec } from './run.types';
import { findSetpriv } from './spawn.plan';

// Issue 12, item 3: timeout and cancel end everything a command started, `setsid` included.
// These specs create cgroups for real (root, on a host with a writable cgroup2 mount, as CI is).
const silent = pino({ level: 'silent' });
const name = `warren-test-${process.pid}-${randomBytes(3).toString('hex')}`;
const opened = CgroupTracker.open(name, silent);
if (!(opened instanceof CgroupTracker))
  throw new Error(`this spec needs a writable cgroup2 hierarchy: ${opened.reason}`);
const tracker = opened;
const baseEnv = buildBaseEnv(process.env);
const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 4096, cgroups: tracker, log: silent });
const pgRunner = new ProcessRunner({ baseEnv, maxOutputBytes: 4096 });
afterAll(() => runner.close());

const spec = (command: string, over: Partial<RunSpec> = {}): RunSpec => ({
  command,
  cwd: null,
  env: {},
  timeoutMs: 10_000,
  killGraceMs: 300,
  ...over,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await sleep(20);
  }
}

/** A live (not zombie) process with that pid whose command line is `cmd`, from the process table. */
function running(pid: number, cmd: string): boolean {
  const ps = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return ps.split('\n').some((l) => {
    const [p, stat, ...args] = l.trim().split(/\s+/);
    return Number(p) === pid && !stat.startsWith('Z') && args.join(' ') === cmd;
  });
}

/** The command of issue 12: a daemon that leaves the process group, its pid printed first. */
const DAEMON = (secs: number) => `setsid sleep ${secs} </dev/null >/dev/null 2>&1 & echo $!; sleep 1236`;
const daemonPid = async (h: { outcome: unknown }, out: () => string) => {
  await until(() => out().includes('\n'));
  return Number(out().trim());
};

/** Starts `command`, and reads the pid it prints on its first line as it streams. */
function startPrinting(r: ProcessRunner, command: string, over: Partial<RunSpec> = {}) {
  let out = '';
  const h = r.start(spec(command, { ...over, onOutput: (_s, b) => (out += b.toString()) }));
  return { h, pid: daemonPid(h, () => out) };
}

describe('ProcessRunner with a cgroup per run', () => {
  it('runs the command itself in its cgroup: the same pid, stdin from /dev/null, whatever env it is given', async () => {
    const h = runner.start(
      spec('echo $$; cat /proc/self/cgroup; readlink /proc/self/fd/0; echo "$IFS"', { env: { IFS: 'o' } }),
    );
    const o = await h.outcome;
    expect(o).toMatchObject({ state: 'succeeded', exitCode: 0 });
    const [pid, ...rest] = o.stdout.data.trim().split('\n');
    expect(Number(pid)).toBe(h.pid);
    expect(rest.join('\n')).toContain(`/${name}/${h.cgroup!.split('/').pop()}`);
    expect(rest).toContain('/dev/null');
  });

  it('with a stdinPath, the command in its cgroup reads that file as fd 0, and no fd 3 is left open', async () => {
    const dir = join('/tmp', `${name}-stdin`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'in');
    writeFileSync(file, 'from the file\n', { mode: 0o600 });
    const h = runner.start(
      spec('cat /proc/self/cgroup; cat; [ -e /proc/self/fd/3 ] && echo fd3 open; true', { stdinPath: file }),
    );
    const o = await h.outcome;
    expect(o).toMatchObject({ state: 'succeeded' });
    expect(o.stdout.data).toContain(`/${name}/`);
    expect(o.stdout.data).toContain('from the file\n');
    expect(o.stdout.data).not.toContain('fd3 open');
    // As another user: the agent opened the 0600 root file, so nobody reads it all the same.
    const nobody = systemUserDatabase.lookup('nobody')!;
    const as = await runner.start(spec('cat', { stdinPath: file, runAs: { ...nobody, user: nobody.name } })).outcome;
    expect(as).toMatchObject({ state: 'succeeded', stdout: { data: 'from the file\n' } });
    rmSync(dir, { recursive: true, force: true });
  });

  it('kills a setsid daemon at the timeout, with cgroup.kill, and removes the cgroup', async () => {
    const { h, pid } = startPrinting(runner, DAEMON(1237), { timeoutMs: 1_000 });
    const daemon = await pid;
    expect(h.cgroup).toMatch(new RegExp(`^${tracker.path}/run-[0-9a-f]+$`));
    expect(running(daemon, 'sleep 1237')).toBe(true);
    expect(readFileSync(`/proc/${daemon}/cgroup`, 'utf8')).toContain(h.cgroup!.split('/').slice(-2).join('/'));
    const o = await h.outcome;
    expect(o).toMatchObject({ state: 'timed_out', signal: 'SIGTERM', reason: 'killed after 1000 ms timeout' });
    await until(() => !running(daemon, 'sleep 1237'));
    await until(() => !existsSync(h.cgroup!));
  });

  it('kills a setsid daemon on cancel, one that ignores SIGTERM after the grace', async () => {
    const cmd = `setsid sh -c "trap '' TERM; sleep 1239" </dev/null >/dev/null 2>&1 & echo $!; sleep 1236`;
    const { h, pid } = startPrinting(runner, cmd, { killGraceMs: 300 });
    const daemon = await pid;
    await until(() => running(daemon, "sh -c trap '' TERM; sleep 1239"));
    const t0 = Date.now();
    h.cancel('cancelled by test');
    expect(await h.outcome).toMatchObject({ state: 'cancelled', signal: 'SIGTERM', reason: 'cancelled by test' });
    // The shell died of SIGTERM; the daemon ignored it, so the run ended only with the SIGKILL after the grace.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await until(() => !running(daemon, "sh -c trap '' TERM; sleep 1239"));
    await until(() => !existsSync(h.cgroup!));
  });

  it('leaves a daemon of a command that exited by itself alone, and removes its cgroup once the daemon exits', async () => {
    const { h, pid } = startPrinting(runner, 'setsid sleep 1238 </dev/null >/dev/null 2>&1 & echo $!');
    const daemon = await pid;
    expect(await h.outcome).toMatchObject({ state: 'succeeded', exitCode: 0 });
    await sleep(300);
    expect(running(daemon, 'sleep 1238')).toBe(true);
    expect(existsSync(h.cgroup!)).toBe(true); // kept alive by the daemon
    expect(tracker.lingering).toBe(1);
    process.kill(daemon, 'SIGKILL'); // the test's own daemon
    await until(() => !existsSync(h.cgroup!));
    await until(() => tracker.lingering === 0);
  });

  it('puts a command run as another user in its cgroup before the switch, and kills its setsid daemon', async () => {
    const nobody = systemUserDatabase.lookup('nobody')!;
    const runAs = { user: 'nobody', uid: nobody.uid, gid: nobody.gid, home: nobody.home };
    for (const setpriv of [findSetpriv(), null]) {
      const r = new ProcessRunner({ baseEnv, maxOutputBytes: 4096, cgroups: tracker, log: silent, setpriv });
      const { h, pid } = startPrinting(r, `${DAEMON(1240)}; true`, { runAs, maxProcesses: 50, timeoutMs: 800 });
      const daemon = await pid;
      expect(readFileSync(`/proc/${daemon}/status`, 'utf8')).toMatch(new RegExp(`^Uid:\\s+${nobody.uid}\\s`, 'm'));
      expect(await h.outcome).toMatchObject({ state: 'timed_out' });
      await until(() => !running(daemon, 'sleep 1240'));
    }
  });

  it('without a cgroup (the fallback), the timeout kills the process group only: a setsid daemon survives', async () => {
    const { h, pid } = startPrinting(pgRunner, DAEMON(1241), { timeoutMs: 500 });
    const daemon = await pid;
    expect(h.cgroup).toBeNull();
    expect(await h.outcome).toMatchObject({ state: 'timed_out' });
    await sleep(300);
    expect(running(daemon, 'sleep 1241')).toBe(true); // the documented limit of process groups
    process.kill(daemon, 'SIGKILL');
  });
});

describe('CgroupTracker', () => {
  it('at start removes the empty cgroups an earlier agent left and watches the ones daemons keep', async () => {
    const n = `warren-test-sweep-${process.pid}`;
    const first = CgroupTracker.open(n, silent) as CgroupTracker;
    const empty = join(first.path, 'run-left-empty');
    const held = join(first.path, 'run-left-held');
    mkdirSync(empty);
    mkdirSync(held);
    const daemon = spawn('sleep', ['1242'], { stdio: 'ignore', detached: true });
    writeFileSync(join(held, 'cgroup.procs'), `${daemon.pid}\n`);
    first.close(); // as an agent that stops while a daemon runs
    expect(existsSync(held)).toBe(true);

    const second = CgroupTracker.open(n, silent) as CgroupTracker;
    expect(existsSync(empty)).toBe(false);
    expect(second.lingering).toBe(1);
    daemon.kill('SIGKILL');
    await until(() => !existsSync(held));
    second.close();
    expect(existsSync(second.path)).toBe(false);
  });

  it('says why it cannot track with cgroups', () => {
    expect(CgroupTracker.open('x', silent, { mountinfo: '', procSelfCgroup: '0::/' })).toEqual({
      reason: 'no cgroup2 filesystem in /proc/self/mountinfo',
    });
    const v2 = '41 31 0:38 / /nonexistent/cgroup rw,relatime - cgroup2 cgroup2 rw';
    expect(CgroupTracker.open('x', silent, { mountinfo: v2, procSelfCgroup: '0::/' })).toEqual({
      reason: 'cannot create /nonexistent/cgroup/x: ENOENT',
    });
  });
});
