import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import type { FileUploaded } from '@warren/api';
import type { ControllerClient } from './controller.client';
import { CALL_TIMEOUT_MS } from './controller.client';
import { ApiError, ControllerUnreachableError } from './http.errors';

/** bytes/s an upload or download is allowed at least, for its time budget (a slow link, not a stalled one) */
const MIN_RATE_BYTES_PER_S = 512 * 1024;
/** ms; budget of an upload of unknown size (standard input) */
const UNKNOWN_SIZE_BUDGET_MS = 30 * 60_000;

/** ms a transfer of `size` bytes may take: the ordinary call budget plus the size at {@link MIN_RATE_BYTES_PER_S}. */
export function transferBudgetMs(size: number | undefined): number {
  if (size === undefined) return UNKNOWN_SIZE_BUDGET_MS;
  return CALL_TIMEOUT_MS + Math.ceil((size / MIN_RATE_BYTES_PER_S) * 1000);
}

/**
 * `POST /v1/files?name=<name>`: streams `body` (`size` bytes when known, sent as Content-Length so
 * that a controller can refuse an oversized file before reading it) and returns what the controller
 * stored: `201` new, `200` already there; both are the same {@link FileUploaded}. A `413` is
 * thrown as an {@link ApiError} with status 413 (see {@link uploadRefusal} for its words).
 */
export async function uploadFile(
  client: ControllerClient,
  body: Readable,
  name: string,
  size: number | undefined,
): Promise<FileUploaded> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  await client.transfer('POST', `/v1/files?name=${encodeURIComponent(name)}`, {
    body,
    contentLength: size,
    sink,
    timeoutMs: transferBudgetMs(size),
  });
  let parsed: FileUploaded | undefined;
  try {
    parsed = JSON.parse(text) as FileUploaded;
  } catch {
    parsed = undefined;
  }
  if (!parsed || typeof parsed.sha256 !== 'string')
    throw new ControllerUnreachableError(
      client.url,
      "answered an upload with a body that is not the controller's JSON (is this a Warren controller?)",
    );
  return parsed;
}

/** What {@link downloadHostFile} wrote, as the controller's headers and the bytes themselves say. */
export interface Downloaded {
  /** lowercase hex SHA-256 of the bytes written, computed here as they arrived */
  sha256: string;
  /** bytes written */
  size: number;
  /** the `Warren-SHA256` header, or null */
  claimedSha256: string | null;
}

/**
 * `GET /v1/tasks/:id/results/:host/file` into `out`, hashing the bytes as they pass. The caller
 * compares the hash with the host's result; the controller's header is returned but not trusted.
 */
export async function downloadHostFile(
  client: ControllerClient,
  id: string,
  host: string,
  out: Writable,
  expectedSize: number,
): Promise<Downloaded> {
  const hash = createHash('sha256');
  let size = 0;
  let sinkError: Error | null = null;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      out.write(chunk, (err) => {
        if (err) sinkError = err;
        done(err);
      });
    },
    final(done) {
      out.end((err?: Error | null) => {
        if (err) sinkError = err;
        done(err);
      });
    },
  });
  const path = `/v1/tasks/${encodeURIComponent(id)}/results/${encodeURIComponent(host)}/file`;
  try {
    const res = await client.transfer('GET', path, { sink, timeoutMs: transferBudgetMs(expectedSize) });
    return { sha256: hash.digest('hex'), size, claimedSha256: res.headers.get('warren-sha256') };
  } catch (err) {
    // The local write failed (a full disk), not the controller: say that instead.
    if (sinkError && err instanceof ControllerUnreachableError) throw sinkError;
    throw err;
  }
}

/** True for the controller's "chunks still missing" answer to a file download, which is worth retrying. */
export function isIncomplete(err: unknown): boolean {
  return err instanceof ApiError && err.status === 409 && err.messages.some((m) => /incomplete/i.test(m));
}
