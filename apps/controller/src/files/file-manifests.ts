import { Inject, Injectable } from '@nestjs/common';
import { FILE_CHUNK_BYTES, type FileManifest } from '@warren/protocol';
import { FILE_STORE, type FileStore } from '../store/file-store.port';

/** Manifests kept in memory: a rolling put of one file to many hosts reads its manifest once. */
const CACHED = 64;

/** Thrown when a task names a file the store does not hold (it never deletes one: a broken database). */
export class FileMissingError extends Error {
  override readonly name = 'FileMissingError';
  constructor(readonly sha256: string) {
    super(`file ${sha256} is not in the database`);
  }
}

/**
 * The {@link FileManifest} of an uploaded file, as a put or stdin command carries it (signed with
 * the command): its SHA-256, size, chunk size and the hash of each chunk, read from the
 * {@link FileStore} once and kept (a file's content never changes under its hash).
 */
@Injectable()
export class FileManifests {
  private readonly cache = new Map<string, FileManifest>();

  constructor(@Inject(FILE_STORE) private readonly files: FileStore) {}

  /** The manifest of the stored file `sha256`; rejects with {@link FileMissingError} when there is none. */
  async of(sha256: string): Promise<FileManifest> {
    const hit = this.cache.get(sha256);
    if (hit) return hit;
    const f = await this.files.getFile(sha256);
    if (!f) throw new FileMissingError(sha256);
    const m: FileManifest = { sha256: f.sha256, size: f.size, chunkSize: FILE_CHUNK_BYTES, chunks: f.chunks };
    this.cache.set(sha256, m);
    if (this.cache.size > CACHED) this.cache.delete(this.cache.keys().next().value as string);
    return m;
  }
}
