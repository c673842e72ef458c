import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TaskView } from '@warren/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';
import {
  deleteChunkQueues,
  filesPolicy,
  type IsolatedAgent,
  randomFile,
  sha256,
  startIsolatedAgent,
} from './files.harness';

const HOSTS = ['f1', 'f2', 'f3'];

/**
 * `warren cp`, `warren fetch` and `warren run --stdin` with the real CLI, controller, broker and
 * three agents, each in its own mount namespace with a private tmpfs over the same path: three
 * hosts that each have their own files at the same paths, on one machine.
 */
describe('file transfer to and from three agents, through the CLI', () => {
  const w = new Warren();
  const agents = new Map<string, IsolatedAgent>();
  let root = '';

  beforeAll(async () => {
    root = join(w.dir, 'hostfs');
    const policy = filesPolicy(w, 'files-policy', { write: ['/**'], read: ['/**'] });
    await w.startController();
    for (const h of HOSTS) agents.set(h, await startIsolatedAgent(w, h, root, policy));
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.proc.stop('SIGKILL')));
    await deleteChunkQueues(w, HOSTS);
    await w.teardown();
  });

  /** `path` on `host`, read from outside its namespace. */
  const onHost = (host: string, path: string) => agents.get(host)!.path(path);

  it('copies a 10 MiB random file to three agents: each destination has its SHA-256, mode 0640 and owner daemon:daemon, and no temporary file is left', async () => {
    const bytes = randomFile(10 * 1024 * 1024);
    const src = join(w.dir, 'big.bin');
    writeFileSync(src, bytes);
    const dest = `${root}/srv/app/big.bin`;
    const r = await w.cli([
      'cp',
      src,
      '--dest',
      dest,
      '--mkdir',
      '--mode',
      '0640',
      '--owner',
      'daemon:daemon',
      '--hosts',
      HOSTS.join(','),
      '--wait',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const task = JSON.parse(r.stdout) as TaskView;
    expect(task.transfer).toMatchObject({ op: 'put', file: sha256(bytes), size: bytes.length, dest });
    for (const h of HOSTS) {
      const result = task.results.find((x) => x.host === h)!;
      expect(result).toMatchObject({
        state: 'succeeded',
        file: { sha256: sha256(bytes), size: bytes.length, changed: true },
      });
      const written = readFileSync(onHost(h, dest));
      expect(sha256(written)).toBe(sha256(bytes));
      const st = statSync(onHost(h, dest));
      expect(st.mode & 0o7777).toBe(0o640);
      expect([st.uid, st.gid]).toEqual([1, 1]); // daemon:daemon
      expect(readdirSync(onHost(h, `${root}/srv/app`))).toEqual(['big.bin']);
    }
  });

  it('a second copy of the same file reports changed: false on every host, and its human output says unchanged', async () => {
    const bytes = randomFile(1024 * 1024);
    const src = join(w.dir, 'again.bin');
    writeFileSync(src, bytes);
    const dest = `${root}/srv/again.bin`;
    const args = ['cp', src, '--dest', dest, '--hosts', HOSTS.join(','), '--wait'];
    const first = await w.cli([...args, '--json']);
    expect(first.code).toBe(0);
    const mtimes = HOSTS.map((h) => statSync(onHost(h, dest)).mtimeMs);
    const second = await w.cli([...args, '--json']);
    expect(second.code).toBe(0);
    const task = JSON.parse(second.stdout) as TaskView;
    for (const h of HOSTS)
      expect(task.results.find((x) => x.host === h)).toMatchObject({
        state: 'succeeded',
        file: { sha256: sha256(bytes), size: bytes.length, changed: false },
      });
    expect(HOSTS.map((h) => statSync(onHost(h, dest)).mtimeMs)).toEqual(mtimes); // nothing was rewritten
    const human = await w.cli(args);
    expect(human.code).toBe(0);
    for (const h of HOSTS)
      expect(human.stdout).toMatch(
        new RegExp(`^${h} +succeeded +unchanged +1\\.0 MiB .*sha256 ${sha256(bytes)}$`, 'm'),
      );
    expect(human.stdout).toMatch(/^3 hosts: 3 succeeded/m);
  });

  it("fetch of one path from three hosts lands in <dir>/<host>/<name>, each with its own host's bytes and hash", async () => {
    const path = `${root}/var/log/app.log`;
    const contents = new Map(HOSTS.map((h) => [h, Buffer.concat([Buffer.from(`${h}\n`), randomFile(700_000)])]));
    // Written from outside, into each agent's own tmpfs: three different files at one path.
    for (const h of HOSTS) {
      mkdirSync(onHost(h, `${root}/var/log`), { recursive: true });
      writeFileSync(onHost(h, path), contents.get(h)!);
    }
    const out = join(w.dir, 'fetched');
    const r = await w.cli(['fetch', path, '--dest', out, '--hosts', HOSTS.join(',')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const h of HOSTS) {
      const local = join(out, h, 'app.log');
      expect(readFileSync(local).equals(contents.get(h)!)).toBe(true);
      expect(readdirSync(join(out, h))).toEqual(['app.log']);
      expect(r.stdout).toContain(`sha256 ${sha256(contents.get(h)!)}`);
      expect(r.stdout).toMatch(new RegExp(`^${h} +succeeded .* ${local.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    }
    expect(r.stdout).toMatch(/^3 hosts: 3 fetched/m);
  });

  it("--stdin feeds the same 1 MiB to sha256sum on three hosts, from a file and from a pipe (-), and all print the source's hash", async () => {
    const bytes = randomFile(1024 * 1024);
    const src = join(w.dir, 'stdin.bin');
    writeFileSync(src, bytes);
    const fromFile = await w.cli(['run', 'sha256sum', '--stdin', src, '--hosts', HOSTS.join(','), '--wait', '--json']);
    expect(fromFile.code).toBe(0);
    const task = JSON.parse(fromFile.stdout) as TaskView;
    expect(task.stdin).toEqual({ file: sha256(bytes), size: bytes.length });
    for (const h of HOSTS)
      expect(task.results.find((x) => x.host === h)).toMatchObject({
        state: 'succeeded',
        exitCode: 0,
        stdout: `${sha256(bytes)}  -\n`,
      });

    // `--stdin -`: the CLI's own standard input, piped (w.cli gives it none).
    const piped = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(
        process.execPath,
        [
          resolve(__dirname, '../../bin/warren.js'),
          'run',
          'sha256sum',
          '--stdin',
          '-',
          '--hosts',
          HOSTS.join(','),
          '--wait',
          '--json',
        ],
        {
          env: { ...process.env, WARREN_URL: w.url, WARREN_TOKEN: w.token, NO_COLOR: '1' },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.on('exit', (code) => done({ code, stdout, stderr }));
      child.stdin.end(bytes);
    });
    expect(piped.stderr).toBe('');
    expect(piped.code).toBe(0);
    for (const r of (JSON.parse(piped.stdout) as TaskView).results) expect(r.stdout).toBe(`${sha256(bytes)}  -\n`);
  });
});
