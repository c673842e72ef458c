import { StringDecoder } from 'node:string_decoder';
import { type SseEvent, SseParser } from './sse.parser';
import { type ClientTls, type RequestFn, requestFor } from './transport';

/** ms without a byte (the controller sends a comment every 15 s) before the connection counts as dead */
export const SSE_IDLE_TIMEOUT_MS = 45_000;

/** How {@link openEventStream} turns failures into the client's typed errors. */
export interface EventStreamErrors {
  /** a non-200 answer, with its body and its `Retry-After` in s (a 503 past the controller's cap) */
  refused(status: number, statusText: string, body: string, retryAfterSec?: number): Error;
  /** no usable answer: connection refused or cut, or silent for the idle timeout */
  unreachable(err: unknown): Error;
}

/**
 * One `text/event-stream` GET over `node:http` (see node-http.fetch.ts for why not `fetch`): calls
 * `onEvent` for each event as it arrives and resolves when the server ends the stream. Rejects with
 * `errors.refused` for a non-200 answer and `errors.unreachable` when the connection fails, is cut,
 * or stays silent for `idleTimeoutMs`; events already delivered stay delivered, so the caller
 * reconnects with the last id it saw.
 */
export async function openEventStream(
  url: string,
  headers: Record<string, string>,
  onEvent: (e: SseEvent) => void,
  errors: EventStreamErrors,
  idleTimeoutMs = SSE_IDLE_TIMEOUT_MS,
  tls: ClientTls = {},
): Promise<void> {
  const u = new URL(url);
  const request: RequestFn = await requestFor(u);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err);
    };
    const req = request(
      u,
      { method: 'GET', headers: { accept: 'text/event-stream', ...headers }, agent: false, ...tls },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          const retryAfter = Number(res.headers['retry-after'] ?? NaN);
          res.on('end', () =>
            fail(
              errors.refused(
                status,
                res.statusMessage ?? '',
                Buffer.concat(chunks).toString('utf8'),
                Number.isFinite(retryAfter) ? retryAfter : undefined,
              ),
            ),
          );
          res.on('error', (e) => fail(errors.unreachable(e)));
          return;
        }
        const decoder = new StringDecoder('utf8');
        const parser = new SseParser(onEvent);
        res.on('data', (c: Buffer) => {
          try {
            parser.feed(decoder.write(c));
          } catch (err) {
            fail(err as Error); // onEvent threw: a bug of the caller's, not a network failure
          }
        });
        // A cut connection may end the body without an error: only a clean end after the last event counts.
        res.on('end', () => {
          if (settled) return;
          settled = true;
          if (res.complete) resolve();
          else reject(errors.unreachable(new Error('the event stream was cut')));
        });
        res.on('error', (e) => fail(errors.unreachable(e)));
        res.on('close', () => fail(errors.unreachable(new Error('the event stream was cut'))));
      },
    );
    req.setTimeout(idleTimeoutMs, () =>
      fail(errors.unreachable(new Error(`no data for ${Math.round(idleTimeoutMs / 1000)} s`))),
    );
    req.on('error', (e) => fail(errors.unreachable(e)));
    req.end();
  });
}
