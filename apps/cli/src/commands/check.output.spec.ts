import { createHash, randomBytes } from 'node:crypto';
import { createServer, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.program';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the stand-in controller answers: a status, headers and the body's bytes. */
type Reply = { status: number; headers?: OutgoingHttpHeaders; body: Buffer };

describe('warren check --host h --stdout / --stderr', () => {
  let server: Server;
  let url = '';
  const seen: string[] = [];
  let route: (url: string) => Reply = () => ({ status: 500, body: Buffer.alloc(0) });

  beforeEach(async () => {
    seen.length = 0;
    server = createServer((req, res) => {
      seen.push(req.url ?? '');
      const r = route(req.url ?? '');
      res.writeHead(r.status, r.headers ?? {}).end(r.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** Runs `warren argv`, keeping what it writes to stdout as bytes. */
  async function cli(argv: string[]) {
    const out: Buffer[] = [];
    let stderr = '';
    const code = await runCli(argv, {
      stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c)) },
      stderr: { write: (s: string | Uint8Array) => (stderr += s) },
      env: { WARREN_URL: url, WARREN_TOKEN: 'tok' },
    });
    return { code, stdout: Buffer.concat(out), stderr };
  }

  const bytesReply = (body: Buffer, over: Record<string, string> = {}): Reply => ({
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      'warren-state': 'succeeded',
      'warren-utf8': 'false',
      'warren-total-bytes': String(body.length),
      'warren-truncated': 'false',
      ...over,
    },
    body,
  });

  it('writes the bytes exactly, nothing else, and exits 0 when the host succeeded', async () => {
    const bytes = randomBytes(4096);
    route = () => bytesReply(bytes);
    const r = await cli(['check', 't_abc', '--host', 'web1', '--stdout']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(sha256(r.stdout)).toBe(sha256(bytes));
    expect(seen).toEqual(['/v1/tasks/t_abc/results/web1/stdout']);
  });

  it('reads stderr from its own route, says what was cut, and exits 1 for a host that failed', async () => {
    route = () =>
      bytesReply(Buffer.from('oops\n'), {
        'warren-state': 'failed',
        'warren-total-bytes': '9000',
        'warren-truncated': 'true',
        'warren-utf8': 'true',
      });
    const r = await cli(['check', 't_abc', '--host', 'web1', '--stderr']);
    expect(r.code).toBe(1);
    expect(r.stdout.toString()).toBe('oops\n');
    expect(r.stderr).toMatch(/^warren: web1's stderr was cut at the agent's cap: the first 5 B of 8\.8 KiB\n$/);
    expect(seen).toEqual(['/v1/tasks/t_abc/results/web1/stderr']);
  });

  it("says when the bytes are an older agent's text, and exits 4 while the host has not finished", async () => {
    route = () => bytesReply(Buffer.from('a\uFFFDb'), { 'warren-utf8': 'unknown' });
    expect((await cli(['check', 't_abc', '--host', 'web1', '--stdout'])).stderr).toMatch(
      /predates exact output capture/,
    );
    route = () => bytesReply(Buffer.alloc(0), { 'warren-state': 'running' });
    const r = await cli(['check', 't_abc', '--host', 'web1', '--stdout']);
    expect(r).toMatchObject({ code: 4, stderr: expect.stringMatching(/still running on web1/) });
  });

  it("exits 2 with the API's message for a host the task does not have", async () => {
    route = () => ({
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(
        JSON.stringify({ statusCode: 404, error: 'HostNotInTaskError', message: 'task t_abc has no host web9' }),
      ),
    });
    const r = await cli(['check', 't_abc', '--host', 'web9', '--stdout']);
    expect(r).toMatchObject({ code: 2, stderr: 'warren: task t_abc has no host web9\n' });
    expect(r.stdout.length).toBe(0);
  });

  it.each([
    [['--host', 'web1'], /--host picks the host/],
    [['--stdout'], /name it with --host/],
    [['--host', 'web1', '--stdout', '--stderr'], /give one/],
    [['--host', 'web1', '--stdout', '--json'], /cannot be combined with --json/],
  ])('refuses %j as a usage error, asking the controller nothing', async (flags, message) => {
    const r = await cli(['check', 't_abc', ...flags]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(message) });
    expect(seen).toEqual([]);
  });
});
