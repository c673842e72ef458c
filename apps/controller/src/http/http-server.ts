import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** How long a client may take to send a request, in ms (Node's server options of the same names). */
export interface ServerTimeouts {
  /** ms from the connection (or the previous request) to the end of the headers; Node's default is 60 s */
  headersTimeoutMs: number;
  /**
   * ms from the connection to the end of the body. It ends when the request is received, so a
   * long answer (an SSE stream, a long poll with `waitMs`) is not cut by it.
   */
  requestTimeoutMs: number;
  /** ms an idle keep-alive connection stays open after an answer (Node's default: 5 s) */
  keepAliveTimeoutMs: number;
}

/** The timeouts the controller runs with unless told otherwise (`--http-headers-timeout`, `--http-request-timeout`). */
export const DEFAULT_SERVER_TIMEOUTS: ServerTimeouts = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
};

/** What Node's HTTP parser reported, as the one line a client reads in the 4xx body. */
function parserProblem(err: NodeJS.ErrnoException): { statusCode: number; error: string; message: string } {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        statusCode: 408,
        error: 'Request Timeout',
        message: 'the request was not received in time; the connection is closed',
      };
    case 'HPE_HEADER_OVERFLOW':
      return {
        statusCode: 431,
        error: 'Request Header Fields Too Large',
        message: 'the request line and headers are larger than 16 KiB',
      };
    default:
      return {
        statusCode: 400,
        error: 'Bad Request',
        message: `malformed HTTP request: ${(err as { reason?: string }).reason ?? err.code}`,
      };
  }
}

/**
 * Applies `timeouts` to `server` (before it listens), and answers a request Node's parser refuses
 * (malformed, headers too large, too slow) with a JSON 4xx naming the problem before closing the
 * connection, instead of Node's bare status line. Node checks the header and request timeouts
 * every `connectionsCheckingInterval`, here a quarter of the shorter timeout (Node's default, 30 s,
 * would let a slow client stay up to 30 s past them).
 */
export function applyServerLimits(server: Server, timeouts: ServerTimeouts): void {
  server.headersTimeout = timeouts.headersTimeoutMs;
  server.requestTimeout = timeouts.requestTimeoutMs;
  server.keepAliveTimeout = timeouts.keepAliveTimeoutMs;
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    100,
    Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs) / 4,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's own handler: a reset, or a connection whose answer has begun, gets nothing more.
    const answer = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || answer?.headersSent) return void socket.destroy();
    const problem = parserProblem(err);
    const body = JSON.stringify(problem);
    socket.end(
      `HTTP/1.1 ${problem.statusCode} ${problem.error}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}
