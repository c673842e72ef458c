import type { Db } from './database';
import {
  type FetchedProgress,
  type FileRow,
  type FileStore,
  type StoredFile,
  toStoredFile,
  UploadLostError,
  uploadKey,
} from './file-store.port';

/**
 * {@link FileStore} on the controller's SQLite file (the connection every store shares). An
 * upload's chunks are each written in a statement of their own as they arrive (a transaction held
 * across the body's reads would hold the file's one writer lock for as long as the client takes);
 * the commit renames them to the file in one transaction.
 */
export class SqliteFileStore implements FileStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      begin: db.prepare(`INSERT OR REPLACE INTO file_uploads (id, started_at) VALUES (?, ?)`),
      putChunk: db.prepare(`INSERT OR REPLACE INTO file_chunks (file_key, idx, data) VALUES (?, ?, ?)`),
      getFile: db.prepare(`SELECT * FROM files WHERE sha256 = ?`),
      insertFile: db.prepare(
        `INSERT INTO files (sha256, size, name, chunk_hashes, created_at, created_by)
         VALUES (@sha256, @size, @name, @chunks, @createdAt, @createdBy)`,
      ),
      renameChunks: db.prepare(`UPDATE file_chunks SET file_key = ? WHERE file_key = ?`),
      dropChunks: db.prepare(`DELETE FROM file_chunks WHERE file_key = ?`),
      dropUpload: db.prepare(`DELETE FROM file_uploads WHERE id = ?`),
      countChunks: db.prepare(`SELECT COUNT(*) AS count FROM file_chunks WHERE file_key = ?`),
      staleUploads: db.prepare(`SELECT id FROM file_uploads WHERE started_at < ?`),
      readChunk: db.prepare(`SELECT data FROM file_chunks WHERE file_key = ? AND idx = ?`),
      putFetched: db.prepare(`INSERT OR IGNORE INTO fetched_chunks (invocation_id, idx, data) VALUES (?, ?, ?)`),
      fetchedProgress: db.prepare(
        `SELECT COUNT(*) AS count, COALESCE(SUM(LENGTH(data)), 0) AS bytes FROM fetched_chunks WHERE invocation_id = ?`,
      ),
      readFetched: db.prepare(`SELECT data FROM fetched_chunks WHERE invocation_id = ? AND idx = ?`),
    };
  }

  async beginUpload(uploadId: string, now: number): Promise<void> {
    this.stmts.begin.run(uploadId, now);
  }

  async putUploadChunk(uploadId: string, index: number, data: Buffer): Promise<void> {
    this.stmts.putChunk.run(uploadKey(uploadId), index, data);
  }

  async commitUpload(uploadId: string, file: StoredFile): Promise<{ file: StoredFile; created: boolean }> {
    const done = this.db
      .transaction(() => {
        const key = uploadKey(uploadId);
        const begun = this.stmts.dropUpload.run(uploadId).changes === 1;
        const existing = this.stmts.getFile.get(file.sha256) as FileRow | undefined;
        if (existing) {
          this.stmts.dropChunks.run(key);
          return { file: toStoredFile(existing), created: false };
        }
        const { count } = this.stmts.countChunks.get(key) as { count: number };
        if (!begun || count !== file.chunks.length) {
          this.stmts.dropChunks.run(key);
          return null;
        }
        this.stmts.insertFile.run({ ...file, chunks: JSON.stringify(file.chunks) });
        this.stmts.renameChunks.run(file.sha256, key);
        return { file, created: true };
      })
      .immediate();
    if (done === null) throw new UploadLostError(uploadId);
    return done;
  }

  async abortUpload(uploadId: string): Promise<void> {
    this.db.transaction(() => {
      this.stmts.dropChunks.run(uploadKey(uploadId));
      this.stmts.dropUpload.run(uploadId);
    })();
  }

  async sweepUploads(before: number): Promise<number> {
    const stale = this.stmts.staleUploads.all(before) as { id: string }[];
    for (const { id } of stale) await this.abortUpload(id);
    return stale.length;
  }

  async getFile(sha256: string): Promise<StoredFile | null> {
    const r = this.stmts.getFile.get(sha256) as FileRow | undefined;
    return r ? toStoredFile(r) : null;
  }

  async readChunk(sha256: string, index: number): Promise<Buffer | null> {
    const r = this.stmts.readChunk.get(sha256, index) as { data: Buffer } | undefined;
    return r?.data ?? null;
  }

  async putFetchedChunk(invocationId: string, index: number, data: Buffer): Promise<boolean> {
    return this.stmts.putFetched.run(invocationId, index, data).changes === 1;
  }

  async fetchedProgress(invocationId: string): Promise<FetchedProgress> {
    return this.stmts.fetchedProgress.get(invocationId) as FetchedProgress;
  }

  async readFetchedChunk(invocationId: string, index: number): Promise<Buffer | null> {
    const r = this.stmts.readFetched.get(invocationId, index) as { data: Buffer } | undefined;
    return r?.data ?? null;
  }
}
