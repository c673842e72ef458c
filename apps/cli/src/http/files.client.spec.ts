import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ControllerClient } from './controller.client';
import { uploadFile } from './files.client';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stream of `total` zero bytes made as they are read, counting how many were made. */
function lazyBytes(total: number): { stream: Readable; made: () => number } {
  let made = 0;
  const stream = new Readable({
    read() {
      if (made >= total) return void this.push(null);
      made += 64 * 1024;
      this.push(Buffer.alloc(64 * 1024));
    },
  });
  return { stream, made: () => made };
}

describe('uploadFile', () => {
  let server: Server | null = null;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** A controller that reads nothing of the body until `release` is called, then answers 201. */
  async function slowReader(): Promise<{ url: string; release: () => void; received: () => number }> {
    let received = 0;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    server = createServer(async (req: IncomingMessage, res) => {
      req.pause();
      await gate;
      for await (const c of req) received += (c as Buffer).length;
      res
        .writeHead(201, { 'content-type': 'application/json' })
        .end(JSON.stringify({ sha256: 'a'.repeat(64), size: received, name: 'x', chunks: 1, createdAt: '' }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}`, release, received: () => received };
  }

  it('streams the body: while the controller reads nothing, only a few MiB of a 64 MiB file are read', async () => {
    const ctl = await slowReader();
    const body = lazyBytes(64 * MiB);
    const done = uploadFile(new ControllerClient(ctl.url), body.stream, 'big.bin', 64 * MiB);
    await sleep(300);
    // Socket buffers and the stream's high-water marks hold a little; a client that read the file
    // whole before sending (or buffered it) would have made all 64 MiB by now.
    expect(body.made()).toBeLessThan(16 * MiB);
    ctl.release();
    await expect(done).resolves.toMatchObject({ size: 64 * MiB });
    expect(ctl.received()).toBe(64 * MiB);
  });

  it('reports a 413 the controller answers before reading the body (and then closes) as that 413, not as a cut connection', async () => {
    server = createServer((req, res) => {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ statusCode: 413, message: 'the file is over the 1.0 MiB limit' }), () =>
        req.socket.destroy(),
      );
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
    const body = lazyBytes(64 * MiB);
    await expect(uploadFile(new ControllerClient(url), body.stream, 'big.bin', 64 * MiB)).rejects.toMatchObject({
      name: 'ApiError',
      status: 413,
      messages: ['the file is over the 1.0 MiB limit'],
    });
  });
});
