/** An uploaded file as stored (`POST /v1/files`): its bytes are in chunks, read with {@link FileStore.readChunk}. */
export interface StoredFile {
  /** lowercase hex SHA-256 of the whole file: its id */
  sha256: string;
  /** bytes */
  size: number;
  /** the name given at its first upload; null if none */
  name: string | null;
  /** lowercase hex SHA-256 of each chunk of `FILE_CHUNK_BYTES`, in order (the manifest's `chunks`) */
  chunks: string[];
  /** ms since epoch, when first stored */
  createdAt: number;
  /** the API token's name that uploaded it first */
  createdBy: string | null;
}

/** What {@link FileStore.fetchedProgress} counts of a fetched file's chunks. */
export interface FetchedProgress {
  /** chunks stored */
  count: number;
  /** bytes stored in all */
  bytes: number;
}

/**
 * Persistence of file bytes (issue 16, docs/files.md), in the same database as the tasks, so that
 * any controller reads them: uploaded files in 512 KiB chunks, and the chunks of files agents send
 * back for a get. An upload writes its chunks as they arrive under its own upload id (a body of
 * 100 MiB is never held in memory), and {@link commitUpload} makes them the file's in one
 * transaction; {@link abortUpload} (a client that went away, a body past the limit) removes them.
 * Every method rejects only when the storage itself fails (and {@link FileStore.commitUpload} for a swept upload).
 */
export interface FileStore {
  /** Records an upload under way at `now` (ms), so that a sweep can remove it if its controller dies. */
  beginUpload(uploadId: string, now: number): Promise<void>;
  /** Stores chunk `index` of the upload `uploadId` (a repeated index replaces the chunk). */
  putUploadChunk(uploadId: string, index: number, data: Buffer): Promise<void>;
  /**
   * Makes the upload's chunks the file `file`, in one transaction, and forgets the upload. When a
   * file with that SHA-256 is already stored, its chunks stay, the upload's are removed, and the
   * stored one is returned with `created: false`. Otherwise, when the upload is no longer recorded
   * (a sweep removed it while it ran) or holds another number of chunks than `file.chunks`, its
   * chunks are removed, nothing is stored, and it rejects with {@link UploadLostError}.
   */
  commitUpload(uploadId: string, file: StoredFile): Promise<{ file: StoredFile; created: boolean }>;
  /** Removes the upload and its chunks (idempotent). */
  abortUpload(uploadId: string): Promise<void>;
  /** Removes uploads begun before `before` (ms) with their chunks (their controller died); resolves with how many. */
  sweepUploads(before: number): Promise<number>;
  /** The file, or null when none with that SHA-256 is stored. */
  getFile(sha256: string): Promise<StoredFile | null>;
  /** Chunk `index` of a stored file; null when there is no such file or chunk. */
  readChunk(sha256: string, index: number): Promise<Buffer | null>;
  /** Stores chunk `index` of a fetched file; a chunk already stored for that index is kept (resolves false). */
  putFetchedChunk(invocationId: string, index: number, data: Buffer): Promise<boolean>;
  /** How many chunks of the invocation's fetched file are stored, and their bytes. */
  fetchedProgress(invocationId: string): Promise<FetchedProgress>;
  /** Chunk `index` of the invocation's fetched file; null when not stored. */
  readFetchedChunk(invocationId: string, index: number): Promise<Buffer | null>;
}

/** Injection token of the {@link FileStore}. */
export const FILE_STORE = Symbol('FILE_STORE');

/** A row of `files`, the same on SQLite and PostgreSQL (migration 0002). */
export interface FileRow {
  sha256: string;
  size: number;
  name: string | null;
  /** JSON array of chunk hashes */
  chunk_hashes: string;
  /** ms since epoch */
  created_at: number;
  created_by: string | null;
}

/** The {@link StoredFile} a `files` row holds. */
export function toStoredFile(r: FileRow): StoredFile {
  return {
    sha256: r.sha256,
    size: r.size,
    name: r.name,
    chunks: JSON.parse(r.chunk_hashes) as string[],
    createdAt: r.created_at,
    createdBy: r.created_by,
  };
}

/** `file_key` of an upload's chunks until its commit (a SHA-256 is 64 hex digits, never this). */
export function uploadKey(uploadId: string): string {
  return `upload:${uploadId}`;
}

/** An upload that cannot be committed whole: a sweep removed it (or some of its chunks) while it ran. */
export class UploadLostError extends Error {
  constructor(readonly uploadId: string) {
    super(`upload ${uploadId} was removed while it ran (older than the stale-upload sweep); send the file again`);
  }
}
