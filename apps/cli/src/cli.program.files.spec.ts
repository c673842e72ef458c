import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { FileUploaded, HostResult } from '@warren/api';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, done, taskOf, useFakeController } from './cli.program.fixtures';
import { accepted } from './render/task.fixtures';

const dir = mkdtempSync(join(tmpdir(), 'warren-cli-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A local file with `bytes` in it, in a fresh directory. */
function localFile(name: string, bytes: Buffer | string): string {
  const d = mkdtempSync(join(dir, 'src-'));
  const p = join(d, name);
  writeFileSync(p, bytes);
  return p;
}

const uploaded = (bytes: Buffer | string, name: string): FileUploaded => ({
  sha256: sha(bytes),
  size: Buffer.byteLength(bytes),
  name,
  chunks: 1,
  createdAt: '2025-01-01T00:00:00.000Z',
});

/** A host that succeeded with a file. */
const withFile = (host: string, bytes: Buffer | string, changed: boolean): HostResult => ({
  ...done(host, 'succeeded', null),
  file: { sha256: sha(bytes), size: Buffer.byteLength(bytes), changed },
});

describe('warren cp against a controller over HTTP', () => {
  const ctl = useFakeController();

  it('uploads the file once, streamed with its length, then sends one task whose put names it', async () => {
    const bytes = Buffer.from('Welcome to web1\n');
    const file = localFile('motd.txt', bytes);
    ctl.route = (req) =>
      req.url.startsWith('/v1/files')
        ? { status: 201, body: uploaded(bytes, 'motd.txt') }
        : { status: 202, body: accepted('t_cp', ['web1', 'web2']) };
    const r = await cli(
      [
        'cp',
        file,
        '--dest',
        '/etc/motd',
        '--hosts',
        'web1,web2',
        '--mode',
        '640',
        '--owner',
        'deploy:www-data',
        '--mkdir',
      ],
      { WARREN_URL: ctl.url },
    );
    expect(r).toEqual({ code: 0, stdout: 't_cp\n', stderr: '' });
    expect(ctl.uploads).toHaveLength(1);
    expect(ctl.uploads[0].url).toBe('/v1/files?name=motd.txt');
    expect(ctl.uploads[0].bytes.equals(bytes)).toBe(true);
    expect(ctl.uploads[0].headers['content-length']).toBe(String(bytes.length));
    expect(ctl.seen.map((s) => `${s.method} ${s.url}`)).toEqual(['POST /v1/files?name=motd.txt', 'POST /v1/tasks']);
    expect(ctl.seen[1].body).toEqual({
      put: { file: sha(bytes), dest: '/etc/motd', mode: '0640', owner: 'deploy:www-data', mkdir: true },
      hosts: ['web1', 'web2'],
    });
  });

  it('sends several files into --dest as a directory, one task each, like scp', async () => {
    const a = localFile('a.conf', 'A');
    const b = localFile('b.conf', 'B');
    let n = 0;
    ctl.route = (req) => {
      if (req.url === '/v1/files?name=a.conf') return { status: 201, body: uploaded('A', 'a.conf') };
      if (req.url === '/v1/files?name=b.conf') return { status: 200, body: uploaded('B', 'b.conf') };
      return { status: 202, body: accepted(`t_${++n}`, ['web1']) };
    };
    const r = await cli(['cp', a, b, '--dest', '/srv/app', '--hosts', 'web1'], { WARREN_URL: ctl.url });
    expect(r).toEqual({ code: 0, stdout: 't_1\nt_2\n', stderr: '' });
    const puts = ctl.seen.filter((s) => s.url === '/v1/tasks').map((s) => (s.body as { put: unknown }).put);
    expect(puts).toEqual([
      { file: sha('A'), dest: '/srv/app/a.conf' },
      { file: sha('B'), dest: '/srv/app/b.conf' },
    ]);
  });

  it('--wait with several files shows each task under its file and destination, and exits 1 if any host of any failed', async () => {
    const a = localFile('a.conf', 'A');
    const b = localFile('b.conf', 'B');
    let n = 0;
    ctl.route = (req) => {
      if (req.url.startsWith('/v1/files'))
        return { status: 201, body: uploaded(req.url.includes('a.conf') ? 'A' : 'B', 'x') };
      if (req.method === 'POST') return { status: 202, body: accepted(`t_${++n}`, ['web1']) };
      const first = req.url.startsWith('/v1/tasks/t_1');
      const r = first
        ? withFile('web1', 'A', true)
        : { ...done('web1', 'failed', null), reason: 'no space left on device (ENOSPC) writing /srv/b.conf' };
      return { status: 200, body: { ...taskOf([r]), id: first ? 't_1' : 't_2' } };
    };
    const r = await cli(['cp', a, b, '--dest', '/srv/', '--hosts', 'web1', '--wait'], { WARREN_URL: ctl.url });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^${a} -> /srv/a.conf\nweb1 +succeeded`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^${b} -> /srv/b.conf\nweb1 +failed +no space left`, 'm'));
    n = 0;
    const json = await cli(['cp', a, b, '--dest', '/srv/', '--hosts', 'web1', '--wait', '--json'], {
      WARREN_URL: ctl.url,
    });
    expect(json.code).toBe(1);
    expect((JSON.parse(json.stdout) as { id: string }[]).map((t) => t.id)).toEqual(['t_1', 't_2']);
  });

  it('treats a --dest ending in / as a directory for one file, and any other --dest as the file itself', async () => {
    const f = localFile('app.ini', 'x');
    ctl.route = (req) =>
      req.url.startsWith('/v1/files')
        ? { status: 201, body: uploaded('x', 'app.ini') }
        : { status: 202, body: accepted('t_1', ['web1']) };
    await cli(['cp', f, '--dest', '/etc/app/', '--hosts', 'web1'], { WARREN_URL: ctl.url });
    await cli(['cp', f, '--dest', '/etc/app.ini.new', '--hosts', 'web1'], { WARREN_URL: ctl.url });
    const dests = ctl.seen
      .filter((s) => s.url === '/v1/tasks')
      .map((s) => (s.body as { put: { dest: string } }).put.dest);
    expect(dests).toEqual(['/etc/app/app.ini', '/etc/app.ini.new']);
  });

  it.each([
    [['--mode', '0999'], /--mode.*octal permission bits/],
    [['--mode', '4755'], /--mode.*octal permission bits/],
    [['--owner', 'a:b:c'], /--owner.*user or user:group/],
    [['--owner', ':staff'], /--owner.*not a user name/],
  ])('refuses %j before sending anything (exit 2)', async (flags, message) => {
    const f = localFile('x', 'x');
    const r = await cli(['cp', f, '--dest', '/tmp/x', '--hosts', 'web1', ...flags], { WARREN_URL: ctl.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(ctl.seen).toEqual([]);
  });

  it('refuses a relative --dest, two files of one name, a directory and a missing file (exit 2, nothing sent)', async () => {
    const one = localFile('same.txt', '1');
    const two = localFile('same.txt', '2');
    const cases: [string[], RegExp][] = [
      [[one, '--dest', 'etc/motd'], /--dest must be an absolute path/],
      [[one, two, '--dest', '/srv/'], /two files are named "same.txt"/],
      [[dir, '--dest', '/srv/x'], /not a regular file \(a directory\)/],
      [[join(dir, 'nope'), '--dest', '/srv/x'], /nope: no such file/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['cp', ...args, '--hosts', 'web1'], { WARREN_URL: ctl.url });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(ctl.seen).toEqual([]);
  });

  it('turns a 413 into a clear error naming the file, its size and the limit, and sends no task', async () => {
    const f = localFile('big.iso', Buffer.alloc(300_000, 7));
    ctl.route = () => ({
      status: 413,
      body: { statusCode: 413, error: 'Payload Too Large', message: 'the file is over the 256.0 KiB limit' },
    });
    const r = await cli(['cp', f, '--dest', '/srv/big.iso', '--hosts', 'web1'], { WARREN_URL: ctl.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f} (293.0 KiB) is larger than the controller accepts`);
    expect(r.stderr).toContain('the file is over the 256.0 KiB limit');
    expect(r.stderr).toContain('--max-file-size or WARREN_MAX_FILE_SIZE');
    expect(ctl.seen.filter((s) => s.url === '/v1/tasks')).toEqual([]);
  });

  it('--wait shows each host changed or unchanged with the SHA-256, and exits 1 when one host failed', async () => {
    const bytes = 'motd\n';
    const f = localFile('motd', bytes);
    ctl.route = (req) => {
      if (req.url.startsWith('/v1/files')) return { status: 201, body: uploaded(bytes, 'motd') };
      if (req.method === 'POST') return { status: 202, body: accepted('t_abc', ['web1', 'web2', 'web3']) };
      const t = taskOf([
        withFile('web1', bytes, true),
        withFile('web2', bytes, false),
        { ...done('web3', 'failed', null), reason: 'no space left on device (ENOSPC) writing /etc/motd' },
      ]);
      return {
        status: 200,
        body: {
          ...t,
          transfer: {
            op: 'put',
            file: sha(bytes),
            name: 'motd',
            size: 5,
            dest: '/etc/motd',
            mode: null,
            owner: null,
            group: null,
            mkdir: false,
          },
        },
      };
    };
    const r = await cli(['cp', f, '--dest', '/etc/motd', '--hosts', 'web1,web2,web3', '--wait'], {
      WARREN_URL: ctl.url,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`web1 +succeeded +changed +5 B +10 ms +sha256 ${sha(bytes)}`));
    expect(r.stdout).toMatch(new RegExp(`web2 +succeeded +unchanged +5 B +10 ms +sha256 ${sha(bytes)}`));
    expect(r.stdout).toMatch(/web3 +failed +no space left on device \(ENOSPC\) writing \/etc\/motd/);
    expect(r.stdout).toMatch(/^failed \(1\): web3$/m);
  });

  it('--wait --collapse groups the hosts that wrote the file apart from those that already had it', async () => {
    const bytes = 'conf\n';
    const f = localFile('app.conf', bytes);
    ctl.route = (req) => {
      if (req.url.startsWith('/v1/files')) return { status: 201, body: uploaded(bytes, 'app.conf') };
      if (req.method === 'POST') return { status: 202, body: accepted('t_abc', ['web1', 'web2', 'web3']) };
      const t = taskOf([withFile('web1', bytes, true), withFile('web2', bytes, false), withFile('web3', bytes, true)]);
      const transfer = { op: 'put' as const, file: sha(bytes), name: 'app.conf', size: 5, dest: '/etc/app.conf' };
      return {
        status: 200,
        body: { ...t, transfer: { ...transfer, mode: null, owner: null, group: null, mkdir: false } },
      };
    };
    const r = await cli(['cp', f, '--dest', '/etc/app.conf', '--hosts', 'web1,web2,web3', '--wait', '--collapse'], {
      WARREN_URL: ctl.url,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^==== web\[1,3\] \(2\) succeeded changed {2}5 B .*====$/m);
    expect(r.stdout).toMatch(/^==== web2 \(1\) succeeded unchanged {2}5 B .*====$/m);
  });

  it('--dry-run names the file by its local hash and uploads nothing', async () => {
    const f = localFile('m', 'dry');
    ctl.route = () => ({
      status: 200,
      body: {
        dryRun: true,
        hosts: ['web1'],
        count: 1,
        folded: 'web1',
        excluded: [],
        unmatched: [],
        concurrency: null,
        maxErrors: null,
      },
    });
    const r = await cli(['cp', f, '--dest', '/etc/m', '--hosts', 'web1', '--dry-run'], { WARREN_URL: ctl.url });
    expect(r).toMatchObject({ code: 0, stdout: '1 host: web1\n' });
    expect(ctl.uploads).toEqual([]);
    expect(ctl.seen[0].body).toEqual({ put: { file: sha('dry'), dest: '/etc/m' }, hosts: ['web1'], dryRun: true });
  });
});

describe('warren fetch against a controller over HTTP', () => {
  const ctl = useFakeController();
  const logA = Buffer.from('web1 log\n');
  const logB = Buffer.from('web2 log, longer\n');

  /** A finished get task on web1 and web2 (and a failed web3); downloads answered by `file`. */
  function routeGet(file: (host: string, attempt: number) => Buffer | 'incomplete') {
    const attempts = new Map<string, number>();
    ctl.route = (req) => {
      if (req.method === 'POST') return { status: 202, body: accepted('t_get', ['web1', 'web2', 'web3']) };
      const m = /\/results\/([^/]+)\/file$/.exec(req.url);
      if (m) {
        const n = (attempts.get(m[1]) ?? 0) + 1;
        attempts.set(m[1], n);
        const bytes = file(m[1], n);
        if (bytes === 'incomplete')
          return {
            status: 409,
            body: {
              statusCode: 409,
              error: 'Conflict',
              message: 'the file of web1 is incomplete: 1 of 2 chunks stored',
            },
          };
        return { status: 200, bytes, headers: { 'warren-sha256': sha(bytes) } };
      }
      return {
        status: 200,
        body: taskOf([
          { ...withFile('web1', logA, false) },
          { ...withFile('web2', logB, false) },
          {
            ...done('web3', 'rejected', null),
            reason: 'policy: files.read allows no path matching /var/log/app.log',
            rejectCode: 'policy',
          },
        ]),
      };
    };
  }

  it("writes each host's copy to <dir>/<host>/<name>, prints size and hash, and exits 1 for the host that failed", async () => {
    routeGet((host) => (host === 'web1' ? logA : logB));
    const out = join(dir, 'fetch-ok');
    const r = await cli(['fetch', '/var/log/app.log', '--dest', out, '--hosts', 'web1,web2,web3'], {
      WARREN_URL: ctl.url,
    });
    expect(r.code).toBe(1);
    expect(ctl.seen[0].body).toEqual({ get: { path: '/var/log/app.log' }, hosts: ['web1', 'web2', 'web3'] });
    expect(readFileSync(join(out, 'web1', 'app.log')).equals(logA)).toBe(true);
    expect(readFileSync(join(out, 'web2', 'app.log')).equals(logB)).toBe(true);
    expect(existsSync(join(out, 'web3'))).toBe(false);
    expect(readdirSync(join(out, 'web1'))).toEqual(['app.log']); // no temporary file left
    expect(r.stdout).toMatch(new RegExp(`web1 +succeeded +9 B +sha256 ${sha(logA)} +${join(out, 'web1', 'app.log')}`));
    expect(r.stdout).toMatch(/web3 +rejected +policy: files.read allows no path matching \/var\/log\/app.log/);
    expect(r.stdout).toMatch(/^not fetched \(1\): web3$/m);
  });

  it('refuses a download whose bytes do not hash to what the host reported: nothing written, that host failed', async () => {
    routeGet((host) => (host === 'web1' ? Buffer.from('tampered\n') : logB));
    const out = join(dir, 'fetch-tampered');
    const r = await cli(
      ['fetch', '/var/log/app.log', '--dest', out, '--hosts', 'web1,web2,web3', '--json', '--max-size', '10MiB'],
      {
        WARREN_URL: ctl.url,
      },
    );
    expect(r.code).toBe(1);
    expect(ctl.seen[0].body).toMatchObject({ get: { path: '/var/log/app.log', maxBytes: 10 * 1024 * 1024 } });
    expect(readdirSync(join(out, 'web1'))).toEqual([]);
    const doc = JSON.parse(r.stdout) as { files: { host: string; path: string | null; error: string | null }[] };
    expect(doc.files[0]).toMatchObject({
      host: 'web1',
      path: null,
      error: expect.stringMatching(/^refused: the downloaded bytes have sha256/),
    });
    expect(doc.files[1]).toMatchObject({ host: 'web2', path: join(out, 'web2', 'app.log'), error: null });
  });

  it('retries a 409 "incomplete" download until the chunks are in', async () => {
    routeGet((host, attempt) => (host === 'web1' && attempt < 3 ? 'incomplete' : host === 'web1' ? logA : logB));
    const out = join(dir, 'fetch-retry');
    const r = await cli(['fetch', '/var/log/app.log', '--dest', out, '--hosts', 'web1,web2'], { WARREN_URL: ctl.url });
    expect(r.code).toBe(1); // web3 was rejected
    expect(readFileSync(join(out, 'web1', 'app.log')).equals(logA)).toBe(true);
    expect(ctl.seen.filter((s) => s.url.endsWith('/web1/file'))).toHaveLength(3);
  });

  it("reports a download the controller refuses as that host's error and still writes the others", async () => {
    routeGet((host) => (host === 'web1' ? 'incomplete' : logB));
    const out = join(dir, 'fetch-refused');
    const started = Date.now();
    const r = await cli(['fetch', '/var/log/app.log', '--dest', out, '--hosts', 'web1,web2', '--json'], {
      WARREN_URL: ctl.url,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // retried (1 s in these tests, 10 s for real), then given up
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { files: { host: string; path: string | null; error: string | null }[] };
    expect(doc.files[0]).toMatchObject({
      host: 'web1',
      path: null,
      error: 'download refused (HTTP 409): the file of web1 is incomplete: 1 of 2 chunks stored',
    });
    expect(readFileSync(join(out, 'web2', 'app.log')).equals(logB)).toBe(true);
    expect(readdirSync(join(out, 'web1'))).toEqual([]);
  });

  it('refuses a relative remote path and a bad --max-size before sending anything', async () => {
    const a = await cli(['fetch', 'var/log/x', '--dest', dir, '--hosts', 'web1'], { WARREN_URL: ctl.url });
    const b = await cli(['fetch', '/var/log/x', '--dest', dir, '--hosts', 'web1', '--max-size', '10MB'], {
      WARREN_URL: ctl.url,
    });
    expect([a.code, b.code]).toEqual([2, 2]);
    expect(a.stderr).toMatch(/must be an absolute path to a file/);
    expect(b.stderr).toMatch(/--max-size.*expected a size above 0/);
    expect(ctl.seen).toEqual([]);
  });
});

describe('warren run --stdin', () => {
  const ctl = useFakeController();

  it('uploads the file first, then sends the task with stdin set to its SHA-256', async () => {
    const bytes = Buffer.alloc(70_000, 1);
    const f = localFile('input.bin', bytes);
    ctl.route = (req) =>
      req.url.startsWith('/v1/files')
        ? { status: 201, body: uploaded(bytes, 'input.bin') }
        : { status: 202, body: accepted('t_in', ['web1']) };
    const r = await cli(['run', 'sha256sum', '--stdin', f, '--hosts', 'web1'], { WARREN_URL: ctl.url });
    expect(r).toEqual({ code: 0, stdout: 't_in\n', stderr: '' });
    expect(ctl.uploads[0].bytes.equals(bytes)).toBe(true);
    expect(ctl.seen[1]).toEqual({
      method: 'POST',
      url: '/v1/tasks',
      body: { command: 'sha256sum', hosts: ['web1'], stdin: sha(bytes) },
    });
  });

  it('--stdin - uploads what arrives on standard input', async () => {
    const stdin = new PassThrough();
    stdin.end('piped bytes\n');
    ctl.route = (req) =>
      req.url.startsWith('/v1/files')
        ? { status: 201, body: uploaded('piped bytes\n', 'stdin') }
        : { status: 202, body: accepted('t_in', ['web1']) };
    const r = await cli(['run', 'cat', '--stdin', '-', '--hosts', 'web1'], { WARREN_URL: ctl.url }, stdin);
    expect(r.code).toBe(0);
    expect(ctl.uploads[0].url).toBe('/v1/files?name=stdin');
    expect(ctl.uploads[0].bytes.toString()).toBe('piped bytes\n');
    expect((ctl.seen[1].body as { stdin: string }).stdin).toBe(sha('piped bytes\n'));
  });

  it('refuses --stdin - when standard input is a terminal, or absent, and sends nothing (exit 2)', async () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    const a = await cli(['run', 'cat', '--stdin', '-', '--hosts', 'web1'], { WARREN_URL: ctl.url }, tty);
    const b = await cli(['run', 'cat', '--stdin', '-', '--hosts', 'web1'], { WARREN_URL: ctl.url });
    expect(a.code).toBe(2);
    expect(a.stderr).toBe(
      'warren: --stdin - reads standard input, which is a terminal: pipe the bytes in (… | warren …) or give a file\n',
    );
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--stdin - reads standard input, and there is none here/);
    expect(ctl.seen).toEqual([]);
  });
});

describe('--help of the file transfer commands', () => {
  it.each([
    [
      'cp',
      [
        '--dest',
        '--mode',
        '--owner',
        '--mkdir',
        '--timeout',
        '--delivery-timeout',
        '--wait',
        '--json',
        '--collapse',
        '--hosts',
        '--label',
        '--all',
        '--dry-run',
        '--concurrency',
        '--max-errors',
      ],
    ],
    [
      'fetch',
      ['--dest', '--max-size', '--timeout', '--delivery-timeout', '--json', '--hosts', '--label', '--all', '--dry-run'],
    ],
    ['run', ['--stdin']],
  ])('warren %s --help documents each of its flags and the exit status', async (command, flags) => {
    const r = await cli([command, '--help']);
    expect(r.code).toBe(0);
    for (const flag of flags) expect(r.stdout).toMatch(new RegExp(`^  ${flag}[ ,<]`, 'm'));
    if (command !== 'run') expect(r.stdout).toMatch(/^Exit status: 0 /m);
  });
});
