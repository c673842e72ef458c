import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostResult, TaskView } from '@warren/api';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from '../http/controller.client';
import { fetchHostFile } from './fetch.command';

describe('fetchHostFile', () => {
  let server: Server | null = null;
  let dir = '';
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A controller answering `bytes` for every file download. */
  async function serving(bytes: Buffer): Promise<string> {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  }

  it('never writes through a symlink planted at its temporary file: the file lands at its place, the link target is untouched', async () => {
    const bytes = Buffer.from('fetched log line\n');
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const url = await serving(bytes);
    dir = mkdtempSync(join(tmpdir(), 'warren-fetch-'));
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n');
    // Someone who can write in the host's directory (a shared --dest) plants the temp name.
    mkdirSync(join(dir, 'out', 'web1'), { recursive: true });
    symlinkSync(victim, join(dir, 'out', 'web1', '.syslog.warren-fetch.tmp'));
    const r = { host: 'web1', state: 'succeeded', file: { sha256, size: bytes.length, changed: false } };
    const f = await fetchHostFile(
      new ControllerClient(url),
      { id: 't_1' } as TaskView,
      r as HostResult,
      join(dir, 'out'),
      'syslog',
    );
    expect(f).toMatchObject({ path: join(dir, 'out', 'web1', 'syslog'), sha256, error: null });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readFileSync(join(dir, 'out', 'web1', 'syslog'))).toEqual(bytes);
  });
});
