import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ClientTls, requestFor } from './transport';

/** What the client reads of an HTTP answer: the slice of `Response` it uses. */
export interface HttpAnswer {
  ok: boolean;
  status: number;
  statusText: string;
  /** response headers (a `Headers` fits): the value of one, null when absent */
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  /** the body exactly, for answers that are not text */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Method, headers, body and abort signal of one request: the slice of `RequestInit` it uses. */
export interface HttpCall {
  method: string;
  headers: Record<string, string>;
  /** a JSON text, or a stream of bytes sent as they are read (a file upload: never held whole in memory) */
  body?: string | Readable;
  /**
   * Where a 2xx answer's body goes as it arrives (a file download); the answer then resolves once
   * `sink` has finished, and its `text()` / `arrayBuffer()` are empty. Other answers are read whole.
   */
  sink?: Writable;
  signal?: AbortSignal;
  /** TLS settings for an https: URL */
  tls?: ClientTls;
}

/**
 * One HTTP request over `node:http`, shaped like `fetch`. The CLI does not use global `fetch`:
 * on Node 20 loading undici costs ~40 ms, and its pooled keep-alive sockets hold the process
 * ~80 ms after the last answer; for a tool that runs once per command that doubled the wall time
 * of `warren run --wait` (measured: 250 ms → 110 ms for one host).
 */
export async function nodeHttpFetch(url: string, init: HttpCall): Promise<HttpAnswer> {
  const u = new URL(url);
  const request = await requestFor(u);
  return new Promise((resolve, reject) => {
    const options = { method: init.method, headers: init.headers, signal: init.signal, agent: false, ...init.tls };
    let answered = false;
    const req = request(u, options, (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const answer = (body: Buffer): HttpAnswer => ({
        ok: status >= 200 && status < 300,
        status,
        statusText: res.statusMessage ?? '',
        headers: { get: (name) => headerValue(res.headers[name.toLowerCase()]) },
        text: async () => body.toString('utf8'),
        arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
      });
      if (init.sink && status >= 200 && status < 300) {
        pipeline(res, init.sink).then(() => resolve(answer(Buffer.alloc(0))), reject);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve(answer(Buffer.concat(chunks))));
    });
    // A controller refusing an upload (413) may answer and close before it has read the body: the
    // answer is what counts, not the write that then fails.
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (init.body === undefined || typeof init.body === 'string') req.end(init.body);
    // A stream that fails (an unreadable file) aborts the request: the controller stores nothing.
    else
      pipeline(init.body, req).catch((err: Error) => {
        if (!answered) req.destroy(err);
      });
  });
}

/** A header as `Headers.get` gives it: repeated values joined with ", ", null when absent. */
function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}
