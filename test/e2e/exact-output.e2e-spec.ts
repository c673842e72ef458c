import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

const ROOT = join(__dirname, '../..');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** `warren args`, keeping its stdout as bytes (the harness's `cli` decodes it as text). */
function cliBytes(w: Warren, args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/warren.js'), ...args], {
    env: { ...process.env, WARREN_URL: w.url, WARREN_TOKEN: w.token, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr })));
}

describe('output that is not text is recovered exactly (issue 12, item 6)', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('h1');
    await w.startAgent('h2', {}, ['--max-output', '5']);
  }, 60_000);
  afterAll(() => w.teardown());

  it('random bytes: stdoutUtf8 false, and warren check --stdout writes them with the sha256 the host computed', async () => {
    // The host prints 4 KiB of random bytes and, on stderr, their sha256 as it computed it.
    const task = await w.runAndWait({
      command: 'f=$(mktemp); head -c 4096 /dev/urandom > $f; sha256sum < $f >&2; cat $f; rm -f $f',
      hosts: ['h1'],
    });
    const [r] = task.results;
    expect(r).toMatchObject({
      state: 'succeeded',
      stdoutBytes: 4096,
      stdoutTruncated: false,
      stdoutUtf8: false,
      stderrUtf8: true,
    });
    const hostHash = r.stderr.split(' ')[0];
    expect(hostHash).toMatch(/^[0-9a-f]{64}$/);

    const check = await cliBytes(w, ['check', task.id, '--host', 'h1', '--stdout']);
    expect(check).toMatchObject({ code: 0, stderr: '' });
    expect(check.stdout.length).toBe(4096);
    expect(sha256(check.stdout)).toBe(hostHash);

    const raw = await fetch(`${w.url}/v1/tasks/${task.id}/results/h1/stdout`, {
      headers: { authorization: `Bearer ${w.token}` },
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect(raw.headers.get('warren-utf8')).toBe('false');
    expect(sha256(Buffer.from(await raw.arrayBuffer()))).toBe(hostHash);

    const b64 = await w.api('GET', `/v1/tasks/${task.id}/results/h1/stdout?encoding=base64`);
    expect(b64.body).toMatchObject({
      host: 'h1',
      stream: 'stdout',
      state: 'succeeded',
      encoding: 'base64',
      utf8: false,
      totalBytes: 4096,
      truncated: false,
    });
    expect(sha256(Buffer.from(b64.body.data, 'base64'))).toBe(hostHash);

    const stderr = await cliBytes(w, ['check', task.id, '--host', 'h1', '--stderr']);
    expect(stderr.stdout.toString()).toBe(r.stderr);
  });

  it('a text command gives stdoutUtf8 true, and its bytes are its text', async () => {
    const task = await w.runAndWait({ command: "printf 'h\\303\\251llo\\n'", hosts: ['h1'] });
    expect(task.results[0]).toMatchObject({ stdout: 'héllo\n', stdoutUtf8: true });
    const check = await cliBytes(w, ['check', task.id, '--host', 'h1', '--stdout']);
    expect(check.stdout).toEqual(Buffer.from('héllo\n'));
  });

  it('keeps the first bytes of a character the cap cut: the bytes are an exact prefix, still counted UTF-8', async () => {
    const task = await w.runAndWait({ command: "printf 'abc\\303\\251\\342\\202\\254more'", hosts: ['h2'] });
    expect(task.results[0]).toMatchObject({ stdout: 'abcé', stdoutBytes: 12, stdoutTruncated: true, stdoutUtf8: true });
    const check = await cliBytes(w, ['check', task.id, '--host', 'h2', '--stdout']);
    expect(check.stdout).toEqual(Buffer.from([0x61, 0x62, 0x63, 0xc3, 0xa9]));
    expect(check.stderr).toMatch(/h2's stdout was cut at the agent's cap: the first 5 B of 12 B/);
  });

  it('reads with the same checks as the task: 404 unknown task or host, 403 outside the token, 401 without one, 400 a bad encoding', async () => {
    const task = await w.runAndWait({ command: 'echo hi', hosts: ['h1'] });
    const path = (host: string, rest = '') => `/v1/tasks/${task.id}/results/${host}/stdout${rest}`;
    expect((await w.api('GET', `/v1/tasks/t_nope/results/h1/stdout`)).status).toBe(404);
    expect((await w.api('GET', path('h9'))).body).toMatchObject({
      statusCode: 404,
      message: `task ${task.id} has no host h9`,
    });
    const scoped = w.createToken('only-h2', 'viewer', ['h2']);
    expect((await w.api('GET', path('h1'), undefined, { token: scoped })).status).toBe(403);
    expect((await w.api('GET', path('h1'), undefined, { token: null })).status).toBe(401);
    expect((await w.api('GET', path('h1', '?encoding=hex'))).status).toBe(400);
    const gone = await cliBytes(w, ['check', task.id, '--host', 'h9', '--stdout']);
    expect(gone).toMatchObject({ code: 2, stderr: `warren: task ${task.id} has no host h9\n` });
  });
});
