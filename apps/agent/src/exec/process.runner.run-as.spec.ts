import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBaseEnv } from '../config/base-env.builder';
import { systemUserDatabase } from '../policy/user.database';
import { ProcessRunner } from './process.runner';
import type { RunAsUser, RunSpec } from './run.types';
import { findSetpriv } from './spawn.plan';

// These specs switch users for real: the agent (and CI) runs them as root.
const nobodyEntry = systemUserDatabase.lookup('nobody')!;
const nobody: RunAsUser = { user: 'nobody', uid: nobodyEntry.uid, gid: nobodyEntry.gid, home: nobodyEntry.home };
const root: RunAsUser = { user: 'root', uid: 0, gid: 0, home: '/root' };
const baseEnv = buildBaseEnv({ ...process.env, HOME: '/root', USER: 'root', LOGNAME: 'root' });
const spec = (command: string, over: Partial<RunSpec> = {}): RunSpec => ({
  command,
  cwd: null,
  env: {},
  timeoutMs: 10_000,
  killGraceMs: 500,
  ...over,
});
const scratch = mkdtempSync(join(tmpdir(), 'warren-runas-'));
chmodSync(scratch, 0o777); // writable by nobody
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Ids the kernel holds for the process: real, effective, saved and filesystem uid and gid, and its groups. */
const IDS = "grep -E '^(Uid|Gid|Groups):' /proc/self/status | tr -s '\\t ' ' '";

/** A user listed as a member of some group in /etc/group: one with supplementary groups to keep. */
function userWithSupplementaryGroups(): string | null {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    for (const member of (line.split(':')[3] ?? '').split(',').filter(Boolean)) {
      const u = systemUserDatabase.lookup(member);
      if (u && u.uid !== 0) return member;
    }
  }
  return null;
}

function liveMembers(pgid: number): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([, g, stat]) => Number(g) === pgid && stat !== undefined && !stat.startsWith('Z'))
    .map((f) => f.join(' '));
}

const modes = [
  { name: 'with setpriv', setpriv: findSetpriv() },
  { name: "with Node's uid/gid", setpriv: null },
];

describe.each(modes)('ProcessRunner running as another user ($name)', ({ setpriv }) => {
  const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 65_536, setpriv });

  it("runs the command as that user, with the user's HOME, USER and LOGNAME, and files it creates are the user's", async () => {
    const file = join(scratch, `made-by-${setpriv ? 'setpriv' : 'node'}`);
    const h = runner.start(
      spec(`echo $$; id -un; echo "$HOME|$USER|$LOGNAME"; ${IDS}; touch ${file}`, {
        runAs: nobody,
        env: { HOME: '/root', USER: 'root' },
      }),
    );
    const o = await h.outcome;
    expect(o).toMatchObject({ state: 'succeeded', stderr: { data: '' } });
    const [pid, name, vars, ...ids] = o.stdout.data.trim().split('\n');
    expect(Number(pid)).toBe(h.pid); // the shell itself leads the group the runner kills
    expect(name).toBe('nobody');
    expect(vars).toBe(`${nobody.home}|nobody|nobody`); // the envelope's HOME/USER do not make it root
    expect(ids).toContain(`Uid: ${nobody.uid} ${nobody.uid} ${nobody.uid} ${nobody.uid}`);
    expect(ids).toContain(`Gid: ${nobody.gid} ${nobody.gid} ${nobody.gid} ${nobody.gid}`);
    expect(ids.find((l) => l.startsWith('Groups:'))!.split(' ')).not.toContain('0'); // root's groups are not inherited
    expect(statSync(file)).toMatchObject({ uid: nobody.uid, gid: nobody.gid });
  });

  it("starts in the user's home when the command gives no cwd, in / when that home does not exist, else in the cwd given", async () => {
    const home = mkdtempSync(join(tmpdir(), 'warren-home-'));
    chmodSync(home, 0o755);
    const pwd = async (over: Partial<RunSpec>) => (await runner.start(spec('pwd', over)).outcome).stdout.data.trim();
    expect(await pwd({ runAs: { ...nobody, home } })).toBe(home);
    expect(existsSync(nobody.home)).toBe(false); // nobody's home is /nonexistent on Debian
    expect(await pwd({ runAs: nobody })).toBe('/');
    expect(await pwd({ runAs: nobody, cwd: '/tmp' })).toBe('/tmp');
    rmSync(home, { recursive: true });
  });

  it("kills the whole process group of another user's command at its timeout", async () => {
    const h = runner.start(spec('sleep 100 & sleep 100', { runAs: nobody, timeoutMs: 300, killGraceMs: 300 }));
    await new Promise((r) => setTimeout(r, 150));
    expect(liveMembers(h.pid!).length).toBeGreaterThanOrEqual(2);
    expect(await h.outcome).toMatchObject({ state: 'timed_out', reason: 'killed after 300 ms timeout' });
    expect(liveMembers(h.pid!)).toEqual([]);
  });
});

describe("ProcessRunner: the envelope's environment never reaches what runs as root", () => {
  it('LD_PRELOAD from the envelope is loaded only as the run-as user, never in setpriv or prlimit (root)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-preload-'));
    chmodSync(dir, 0o777);
    const log = join(dir, 'uids');
    const src = join(dir, 'p.c');
    writeFileSync(
      src,
      `#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void c(void) { FILE *f = fopen("${log}", "a"); if (f) { fprintf(f, "%d\\n", (int) getuid()); fclose(f); } }\n`,
    );
    execFileSync('gcc', ['-shared', '-fPIC', '-o', join(dir, 'p.so'), src]);
    chmodSync(join(dir, 'p.so'), 0o755);
    const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 65_536 });
    const o = await runner.start(
      spec('true', { runAs: nobody, maxProcesses: 50, env: { LD_PRELOAD: join(dir, 'p.so') } }),
    ).outcome;
    expect(o.state).toBe('succeeded');
    const uids = readFileSync(log, 'utf8').trim().split('\n').map(Number);
    expect(uids.length).toBeGreaterThan(0); // it was loaded: in env(1) and the shell, as the user
    expect(uids).not.toContain(0);
    expect(uids.every((u) => u === nobody.uid)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('ProcessRunner with a process limit (policy maxProcesses)', () => {
  // RLIMIT_NPROC counts every process of the user across the machine (containers sharing the kernel
  // included), and root is exempt: so these run as a uid no one else uses, switched by Node.
  const base = 2_000_000 + Math.floor(Math.random() * 1_000_000);
  let next = 0;
  /** A fresh uid per test, so that one test's processes never count against another's limit. */
  const lonelyUser = (): RunAsUser => {
    const uid = base + next++;
    return { user: `u${uid}`, uid, gid: uid, home: '/' };
  };
  const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 65_536, setpriv: null });
  /** Processes of `uid` now, counted from outside (by root, whom no limit binds). */
  const countOf = (uid: number) =>
    Number(
      execFileSync('sh', ['-c', `ps -u ${uid} --no-headers | wc -l`])
        .toString()
        .trim(),
    );

  /** Kills whatever `uid` still runs (a bomb re-forks: until none is left). */
  const reap = async (uid: number) => {
    for (let i = 0; i < 50 && countOf(uid) > 0; i++) {
      execFileSync('sh', ['-c', `pkill -KILL -u ${uid} || true`]);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('caps the processes a command may start: forks past the limit fail', async () => {
    const u = lonelyUser();
    try {
      const h = runner.start(
        spec('for i in $(seq 100); do sleep 3 & done; wait', {
          runAs: u,
          maxProcesses: 30,
          timeoutMs: 1000,
          killGraceMs: 100,
        }),
      );
      let peak = 0;
      const timer = setInterval(() => (peak = Math.max(peak, countOf(u.uid))), 50);
      const o = await h.outcome;
      clearInterval(timer);
      expect(peak).toBeGreaterThan(10); // it did fork
      expect(peak).toBeLessThanOrEqual(30); // and no further than the limit
      expect(o.stderr.data).toMatch(/fork/i);
    } finally {
      await reap(u.uid);
    }
  });

  it('holds a fork bomb to the limit while it runs', async () => {
    const u = lonelyUser();
    try {
      const h = runner.start(
        spec('b() { b | b & }; b; sleep 5', { runAs: u, maxProcesses: 30, timeoutMs: 1500, killGraceMs: 200 }),
      );
      let peak = 0;
      const timer = setInterval(() => (peak = Math.max(peak, countOf(u.uid))), 25);
      const o = await h.outcome;
      await new Promise((r) => setTimeout(r, 300)); // the bomb goes on forking for a while: watch it
      clearInterval(timer);
      expect(['failed', 'timed_out']).toContain(o.state);
      expect(peak).toBeGreaterThan(3);
      expect(peak).toBeLessThanOrEqual(30);
    } finally {
      await reap(u.uid);
    }
    expect(countOf(u.uid)).toBe(0);
  });

  it('keeps the group leader the same process through prlimit, with the limit set', async () => {
    const h = runner.start(
      spec("echo $$; grep 'Max processes' /proc/self/limits", { runAs: lonelyUser(), maxProcesses: 7 }),
    );
    const o = await h.outcome;
    expect(o.stderr.data).toBe('');
    const [pid, limit] = o.stdout.data.trim().split('\n');
    expect(Number(pid)).toBe(h.pid);
    expect(limit.split(/\s+/).slice(2, 4)).toEqual(['7', '7']);
  });
});

describe('ProcessRunner user switching', () => {
  it("gives the command the user's supplementary groups from the user database (setpriv --init-groups)", async () => {
    const name = userWithSupplementaryGroups() ?? 'nobody';
    const u = systemUserDatabase.lookup(name)!;
    const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 65_536 });
    const o = await runner.start(spec('id -G', { runAs: { user: u.name, uid: u.uid, gid: u.gid, home: u.home } }))
      .outcome;
    const sorted = (text: string) =>
      text
        .trim()
        .split(/\s+/)
        .map(Number)
        .sort((a, b) => a - b);
    expect(sorted(o.stdout.data)).toEqual(sorted(execFileSync('id', ['-G', name], { encoding: 'utf8' })));
  });

  it('refuses to switch users when the agent is not root, without starting anything', async () => {
    const mark = join(scratch, 'ran-anyway');
    const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 1024, agentUid: 1000 });
    const h = runner.start(spec(`touch ${mark}`, { runAs: nobody }));
    expect(h.pid).toBeNull();
    expect(await h.outcome).toMatchObject({
      state: 'error',
      startedAt: null,
      reason: 'cannot run as nobody: the agent is not root',
    });
    expect(existsSync(mark)).toBe(false);
  });

  it('runs as its own user without switching, and reports a missing setpriv as error when it must switch', async () => {
    const runner = new ProcessRunner({
      baseEnv: buildBaseEnv({ ...process.env, HOME: '/elsewhere' }),
      maxOutputBytes: 1024,
      setpriv: '/nonexistent/setpriv',
    });
    const self = await runner.start(spec('id -u; echo "$HOME"', { runAs: root })).outcome;
    expect(self).toMatchObject({ state: 'succeeded', stdout: { data: '0\n/root\n' } });
    const other = await runner.start(spec('id -u', { runAs: nobody })).outcome;
    expect(other).toMatchObject({
      state: 'error',
      reason: expect.stringMatching(/^could not start \/nonexistent\/setpriv: .*ENOENT/),
    });
  });

  it('keeps the output cap a run asks for, never more than the runner allows', async () => {
    const runner = new ProcessRunner({ baseEnv, maxOutputBytes: 8 });
    expect((await runner.start(spec('echo 0123456789', { maxOutputBytes: 4 })).outcome).stdout).toEqual({
      data: '0123',
      utf8: true,
      bytes: 11,
      truncated: true,
    });
    expect((await runner.start(spec('echo 0123456789', { maxOutputBytes: 1_000_000 })).outcome).stdout).toEqual({
      data: '01234567',
      utf8: true,
      bytes: 11,
      truncated: true,
    });
  });
});
