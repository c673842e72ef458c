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
  body?: string;
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
    const req = request(u, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(chunks);
        resolve({
          ok: status >= 200 && status < 300,
          status,
          statusText: res.statusMessage ?? '',
          headers: { get: (name) => headerValue(res.headers[name.toLowerCase()]) },
          text: async () => body.toString('utf8'),
          arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
        });
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A header as `Headers.get` gives it: repeated values joined with ", ", null when absent. */
function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}
