import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { FileUploaded } from '@warren/api';
import { chunkCount, FILE_CHUNK_BYTES } from '@warren/protocol';
import { Clock, ROOT_LOGGER } from '@warren/runtime';
import type { Logger } from 'pino';
import { AUDIT_LOG, type AuditLog } from '../audit/audit.port';
import type { Caller } from '../auth/principal';
import { ControllerConfig } from '../config/controller.config';
import { BadRequestBodyError, BodyTooLargeError } from '../errors/errors';
import { FILE_STORE, type FileStore, type StoredFile } from '../store/file-store.port';

/** ms; an upload begun this long ago and neither committed nor aborted was left by a controller that died: swept. */
export const STALE_UPLOAD_MS = 60 * 60_000;

/** What {@link FileUploadService.upload} reads: the request body as a stream of byte pieces. */
export interface UploadBody {
  /**
   * its pieces (Node's `Readable.iterator`); called with `destroyOnReturn: false` so that a body
   * left unread past the limit is not destroyed (with its socket, before the 413 is read) but
   * discarded by the HTTP server after the answer
   */
  iterator(opts: { destroyOnReturn: boolean }): AsyncIterable<Buffer>;
  /** true once the whole body was received (Node's `IncomingMessage.complete`); false after a client went away */
  readonly complete: boolean;
}

/** What an upload answered: the file as stored, and whether this upload stored it (201) or found it (200). */
export interface UploadResult {
  file: FileUploaded;
  created: boolean;
}

/** A stored file as `FileUploaded` shows it. */
export function presentFile(f: StoredFile): FileUploaded {
  return {
    sha256: f.sha256,
    size: f.size,
    name: f.name,
    chunks: chunkCount(f.size),
    createdAt: new Date(f.createdAt).toISOString(),
  };
}

/**
 * Stores an uploaded file (`POST /v1/files`) without holding it in memory: reads the body as it
 * comes, hashes it whole and in {@link FILE_CHUNK_BYTES} chunks, and writes each chunk to the
 * {@link FileStore} as soon as it is complete (reading waits for the write, so a fast client is
 * slowed to the database's pace: at most one chunk and one network read are in memory). At the end
 * of the body the chunks become the file in one transaction. A body past `--max-file-size` fails
 * with {@link BodyTooLargeError} (413) as soon as it passes the limit, a client that goes away with
 * {@link BadRequestBodyError}; either way the upload's chunks are removed and nothing is stored.
 * Each upload stored is audited (`file.upload`: who, hash, name, size).
 */
@Injectable()
export class FileUploadService {
  private readonly log: Logger;

  constructor(
    @Inject(FILE_STORE) private readonly files: FileStore,
    @Inject(AUDIT_LOG) private readonly audit: AuditLog,
    private readonly config: ControllerConfig,
    private readonly clock: Clock,
    @Inject(ROOT_LOGGER) root: Logger,
  ) {
    this.log = root.child({ component: 'files' });
  }

  /** The most bytes an upload may hold (`--max-file-size`). */
  get limit(): number {
    return this.config.maxFileBytes;
  }

  /** Reads `body` into the store as the file `name` uploaded by `caller`; see the class. */
  async upload(body: UploadBody, name: string | null, caller: Caller): Promise<UploadResult> {
    const uploadId = randomUUID();
    const started = this.clock.now();
    const swept = await this.files.sweepUploads(started - STALE_UPLOAD_MS);
    if (swept > 0) this.log.warn({ swept }, 'removed uploads left unfinished by a controller that stopped');
    await this.files.beginUpload(uploadId, started);
    try {
      const { sha256, size, chunks } = await this.readChunks(body, uploadId);
      const record: StoredFile = {
        sha256,
        size,
        name,
        chunks,
        createdAt: this.clock.now(),
        createdBy: caller.principal.name,
      };
      const { file, created } = await this.files.commitUpload(uploadId, record);
      this.log.info(
        {
          sha256,
          size,
          chunks: chunks.length,
          name,
          created,
          actor: caller.principal.name,
          ms: this.clock.now() - started,
        },
        created ? 'file uploaded' : 'file already stored',
      );
      await this.audit.record({
        actor: caller.principal.name,
        source: caller.source,
        action: 'file.upload',
        decision: 'allowed',
        detail: { sha256, size, name, created },
      });
      return { file: presentFile(file), created };
    } catch (err) {
      this.log.warn(
        { uploadId, name, actor: caller.principal.name, err: (err as Error).message },
        'upload not stored; its chunks are removed',
      );
      await this.files
        .abortUpload(uploadId)
        .catch((e: Error) =>
          this.log.error(
            { uploadId, err: e.message },
            'removing an unfinished upload failed; the next sweep removes it',
          ),
        );
      throw err;
    }
  }

  /** Hashes and stores the body chunk by chunk; throws past the limit or when the body is cut short. */
  private async readChunks(
    body: UploadBody,
    uploadId: string,
  ): Promise<{ sha256: string; size: number; chunks: string[] }> {
    const whole = createHash('sha256');
    const chunks: string[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let size = 0;
    const store = async (chunk: Buffer) => {
      chunks.push(createHash('sha256').update(chunk).digest('hex'));
      await this.files.putUploadChunk(uploadId, chunks.length - 1, chunk);
    };
    try {
      for await (const piece of body.iterator({ destroyOnReturn: false })) {
        size += piece.length;
        if (size > this.limit)
          throw new BodyTooLargeError(
            `the file is larger than the controller's --max-file-size of ${this.limit} bytes`,
          );
        whole.update(piece);
        pending.push(piece);
        pendingBytes += piece.length;
        while (pendingBytes >= FILE_CHUNK_BYTES) {
          const all = Buffer.concat(pending, pendingBytes);
          await store(all.subarray(0, FILE_CHUNK_BYTES));
          pending = [all.subarray(FILE_CHUNK_BYTES)];
          pendingBytes = all.length - FILE_CHUNK_BYTES;
        }
      }
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw err;
      if (!body.complete) throw new BadRequestBodyError('the client closed the connection before the body was sent');
      throw err;
    }
    if (!body.complete) throw new BadRequestBodyError('the client closed the connection before the body was sent');
    if (pendingBytes > 0) await store(Buffer.concat(pending, pendingBytes));
    return { sha256: whole.digest('hex'), size, chunks };
  }
}
