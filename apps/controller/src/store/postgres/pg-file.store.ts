import {
  type FetchedProgress,
  type FileRow,
  type FileStore,
  type StoredFile,
  toStoredFile,
  UploadLostError,
  uploadKey,
} from '../file-store.port';
import { inTransaction, type PgPool } from './pg.database';

/**
 * {@link FileStore} on PostgreSQL (the pool every store shares). An upload's chunks are each
 * written by a statement of their own as they arrive (no connection is held for as long as a
 * client takes to send its body); the commit renames them to the file in one transaction, which
 * takes the file's SHA-256 as an advisory lock so that two controllers committing the same content
 * at once keep one copy.
 */
export class PgFileStore implements FileStore {
  constructor(private readonly pool: PgPool) {}

  async beginUpload(uploadId: string, now: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO file_uploads (id, started_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET started_at = $2`,
      [uploadId, now],
    );
  }

  async putUploadChunk(uploadId: string, index: number, data: Buffer): Promise<void> {
    await this.pool.query(
      `INSERT INTO file_chunks (file_key, idx, data) VALUES ($1, $2, $3)
       ON CONFLICT (file_key, idx) DO UPDATE SET data = EXCLUDED.data`,
      [uploadKey(uploadId), index, data],
    );
  }

  async commitUpload(uploadId: string, file: StoredFile): Promise<{ file: StoredFile; created: boolean }> {
    const done = await inTransaction(this.pool, async (c) => {
      const key = uploadKey(uploadId);
      await c.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [file.sha256]);
      const begun = (await c.query(`DELETE FROM file_uploads WHERE id = $1`, [uploadId])).rowCount === 1;
      const { rows } = await c.query<FileRow>(`SELECT * FROM files WHERE sha256 = $1`, [file.sha256]);
      if (rows.length > 0) {
        await c.query(`DELETE FROM file_chunks WHERE file_key = $1`, [key]);
        return { file: toStoredFile(rows[0]), created: false };
      }
      const counted = await c.query<{ count: string }>(
        `SELECT COUNT(*) AS count FROM file_chunks WHERE file_key = $1`,
        [key],
      );
      if (!begun || Number(counted.rows[0].count) !== file.chunks.length) {
        await c.query(`DELETE FROM file_chunks WHERE file_key = $1`, [key]);
        return null;
      }
      await c.query(
        `INSERT INTO files (sha256, size, name, chunk_hashes, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)`,
        [file.sha256, file.size, file.name, JSON.stringify(file.chunks), file.createdAt, file.createdBy],
      );
      await c.query(`UPDATE file_chunks SET file_key = $1 WHERE file_key = $2`, [file.sha256, key]);
      return { file, created: true };
    });
    if (done === null) throw new UploadLostError(uploadId);
    return done;
  }

  async abortUpload(uploadId: string): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(`DELETE FROM file_chunks WHERE file_key = $1`, [uploadKey(uploadId)]);
      await c.query(`DELETE FROM file_uploads WHERE id = $1`, [uploadId]);
    });
  }

  async sweepUploads(before: number): Promise<number> {
    const { rows } = await this.pool.query<{ id: string }>(`SELECT id FROM file_uploads WHERE started_at < $1`, [
      before,
    ]);
    for (const { id } of rows) await this.abortUpload(id);
    return rows.length;
  }

  async getFile(sha256: string): Promise<StoredFile | null> {
    const { rows } = await this.pool.query<FileRow>(`SELECT * FROM files WHERE sha256 = $1`, [sha256]);
    return rows.length > 0 ? toStoredFile(rows[0]) : null;
  }

  async readChunk(sha256: string, index: number): Promise<Buffer | null> {
    const { rows } = await this.pool.query<{ data: Buffer }>(
      `SELECT data FROM file_chunks WHERE file_key = $1 AND idx = $2`,
      [sha256, index],
    );
    return rows[0]?.data ?? null;
  }

  async putFetchedChunk(invocationId: string, index: number, data: Buffer): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO fetched_chunks (invocation_id, idx, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [invocationId, index, data],
    );
    return rowCount === 1;
  }

  async fetchedProgress(invocationId: string): Promise<FetchedProgress> {
    const { rows } = await this.pool.query<{ count: string | number; bytes: string | number }>(
      `SELECT COUNT(*) AS count, COALESCE(SUM(LENGTH(data)), 0) AS bytes FROM fetched_chunks WHERE invocation_id = $1`,
      [invocationId],
    );
    return { count: Number(rows[0].count), bytes: Number(rows[0].bytes) };
  }

  async readFetchedChunk(invocationId: string, index: number): Promise<Buffer | null> {
    const { rows } = await this.pool.query<{ data: Buffer }>(
      `SELECT data FROM fetched_chunks WHERE invocation_id = $1 AND idx = $2`,
      [invocationId, index],
    );
    return rows[0]?.data ?? null;
  }
}
