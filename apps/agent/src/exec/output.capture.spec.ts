import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { captureBytes, captureText, decodeReply, encode } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { resultMessage } from '../inbox/reply.builder';
import { BoundedCapture } from './output.capture';
import { ProcessRunner } from './process.runner';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Pushes `data` in reads of random sizes, as a pipe would hand it over. */
function feed(c: BoundedCapture, data: Buffer): void {
  for (let at = 0; at < data.length;) {
    const n = 1 + Math.floor(Math.random() * 700);
    c.push(data.subarray(at, at + n));
    at += n;
  }
}

describe('BoundedCapture', () => {
  it('reports random bytes exactly, not as text with replacement characters, and says they are not UTF-8', () => {
    const data = randomBytes(4096);
    const c = new BoundedCapture(1 << 20);
    feed(c, data);
    const r = c.result();
    expect(r).toMatchObject({ utf8: false, bytes: 4096, truncated: false });
    expect(sha256(captureBytes(r))).toBe(sha256(data));
  });

  it('keeps exactly the first cap bytes of random output and counts the rest', () => {
    const data = randomBytes(10_000);
    const c = new BoundedCapture(3000);
    feed(c, data);
    const r = c.result();
    expect(r).toMatchObject({ bytes: 10_000, truncated: true });
    expect(captureBytes(r).equals(data.subarray(0, 3000))).toBe(true);
  });

  it('keeps the first bytes of a character the cap cut, counts the stream UTF-8, and drops it from the text', () => {
    const c = new BoundedCapture(5);
    c.push(Buffer.from('ab'));
    c.push(Buffer.from('cé€')); // c (1) + é (2) + € (3): the cap falls inside €
    c.push(Buffer.from('more'));
    const r = c.result();
    expect(r).toMatchObject({ utf8: true, bytes: 2 + 6 + 4, truncated: true });
    expect(captureBytes(r)).toEqual(Buffer.from([0x61, 0x62, 0x63, 0xc3, 0xa9, 0xe2].slice(0, 5)));
    expect(captureText(r)).toBe('abcé');
  });

  it('reports UTF-8 text as text', () => {
    const c = new BoundedCapture(100);
    c.push(Buffer.from('héllo\n'));
    expect(c.result()).toEqual({ data: 'héllo\n', utf8: true, bytes: 7, truncated: false });
  });

  it('keeps invalid UTF-8 exact, and its text replaced as before', () => {
    const c = new BoundedCapture(10);
    c.push(Buffer.from([0x61, 0xff, 0x62]));
    const r = c.result();
    expect(r).toMatchObject({ utf8: false, bytes: 3, truncated: false });
    expect(captureBytes(r)).toEqual(Buffer.from([0x61, 0xff, 0x62]));
    expect(captureText(r)).toBe('a\uFFFDb');
  });
});

describe('exact output through a real run and its reply', () => {
  it('random bytes a command prints reach the decoded result message exactly', async () => {
    const runner = new ProcessRunner({
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      maxOutputBytes: 1 << 20,
    });
    const file = join(mkdtempSync(join(tmpdir(), 'warren-capture-')), 'bytes');
    const h = runner.start({
      command: `head -c 4096 /dev/urandom | tee ${file}`,
      cwd: null,
      env: {},
      timeoutMs: 10_000,
      killGraceMs: 0,
    });
    const o = await h.outcome;
    const ids = { invocationId: 'i', taskId: 't', host: 'h' };
    const decoded = decodeReply(encode(resultMessage(ids, o)));
    expect(decoded.ok).toBe(true);
    const msg = decoded.ok && decoded.message.kind === 'result' ? decoded.message : null;
    expect(msg?.stdout).toMatchObject({ utf8: false, bytes: 4096, truncated: false });
    expect(sha256(captureBytes(msg!.stdout))).toBe(sha256(readFileSync(file)));
    rmSync(dirname(file), { recursive: true, force: true });
  });
});
