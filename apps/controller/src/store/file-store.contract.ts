import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileStore, StoredFile } from './file-store.port';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stored-file record of `parts` (each one chunk), as the upload route would commit it. */
export function fileOf(parts: Buffer[], name: string | null = 'motd', createdAt = 1_000): StoredFile {
  const all = Buffer.concat(parts);
  return { sha256: sha(all), size: all.length, name, chunks: parts.map(sha), createdAt, createdBy: 'alice' };
}

/** What a contract run needs: a fresh, empty store, and how to close it. */
export interface FileStoreFixture {
  store: FileStore;
  dispose(): Promise<void>;
}

/**
 * The behaviour every {@link FileStore} adapter must have, run against SQLite and PostgreSQL
 * (`sqlite-file.store.spec.ts`, `postgres/pg-file.store.int-spec.ts`).
 */
export function describeFileStoreContract(name: string, open: () => Promise<FileStoreFixture>): void {
  describe(`${name} (FileStore contract)`, () => {
    let f: FileStoreFixture;
    let store: FileStore;
    beforeEach(async () => {
      f = await open();
      store = f.store;
    });
    afterEach(() => f.dispose());

    it('stores an upload chunk by chunk and makes it the file at the commit, readable chunk by chunk', async () => {
      const parts = [Buffer.from('hello '), Buffer.from('world')];
      const file = fileOf(parts);
      await store.beginUpload('u1', 500);
      await store.putUploadChunk('u1', 0, parts[0]);
      await store.putUploadChunk('u1', 1, parts[1]);
      expect(await store.getFile(file.sha256)).toBeNull();
      expect(await store.commitUpload('u1', file)).toEqual({ file, created: true });
      expect(await store.getFile(file.sha256)).toEqual(file);
      expect(await store.readChunk(file.sha256, 0)).toEqual(parts[0]);
      expect(await store.readChunk(file.sha256, 1)).toEqual(parts[1]);
      expect(await store.readChunk(file.sha256, 2)).toBeNull();
      expect(await store.sweepUploads(10_000)).toBe(0); // the commit forgot the upload
    });

    it('keeps the first copy when the same content is committed again: created false, its name and chunks', async () => {
      const parts = [Buffer.from('same bytes')];
      const first = fileOf(parts, 'a.txt', 1_000);
      await store.beginUpload('u1', 500);
      await store.putUploadChunk('u1', 0, parts[0]);
      await store.commitUpload('u1', first);
      await store.beginUpload('u2', 600);
      await store.putUploadChunk('u2', 0, parts[0]);
      expect(await store.commitUpload('u2', fileOf(parts, 'b.txt', 2_000))).toEqual({ file: first, created: false });
      expect(await store.readChunk(first.sha256, 0)).toEqual(parts[0]);
      expect(await store.readChunk('upload:u2', 0)).toBeNull(); // the second upload's chunks are gone
    });

    it('an aborted upload leaves nothing: no file, no chunk', async () => {
      const parts = [Buffer.from('partial')];
      await store.beginUpload('u1', 500);
      await store.putUploadChunk('u1', 0, parts[0]);
      await store.abortUpload('u1');
      await store.abortUpload('u1'); // idempotent
      expect(await store.readChunk('upload:u1', 0)).toBeNull();
      expect(await store.getFile(fileOf(parts).sha256)).toBeNull();
    });

    it('sweeps the uploads begun before a time with their chunks, and only those', async () => {
      await store.beginUpload('old', 100);
      await store.putUploadChunk('old', 0, Buffer.from('x'));
      await store.beginUpload('new', 900);
      await store.putUploadChunk('new', 0, Buffer.from('y'));
      expect(await store.sweepUploads(500)).toBe(1);
      expect(await store.readChunk('upload:old', 0)).toBeNull();
      expect(await store.readChunk('upload:new', 0)).toEqual(Buffer.from('y'));
    });

    it('refuses to commit an upload swept while it ran: no file whose chunks are missing is stored', async () => {
      // An upload slower than the sweep's age (a long --http-request-timeout) loses its first
      // chunks to another upload's sweep, then goes on: committing it would store a file that no
      // put can send, under a hash every later upload of those bytes finds "already stored".
      const parts = [Buffer.from('first'), Buffer.from('second')];
      const file = fileOf(parts);
      await store.beginUpload('slow', 100);
      await store.putUploadChunk('slow', 0, parts[0]);
      expect(await store.sweepUploads(500)).toBe(1);
      await store.putUploadChunk('slow', 1, parts[1]);
      await expect(store.commitUpload('slow', file)).rejects.toThrow(/upload slow was removed/);
      expect(await store.getFile(file.sha256)).toBeNull();
      expect(await store.readChunk('upload:slow', 1)).toBeNull(); // its chunks are removed with it
      // A complete upload of the same bytes is then stored whole.
      await store.beginUpload('again', 600);
      for (const [i, p] of parts.entries()) await store.putUploadChunk('again', i, p);
      expect(await store.commitUpload('again', file)).toEqual({ file, created: true });
      expect(await store.readChunk(file.sha256, 0)).toEqual(parts[0]);
    });

    it('stores an empty file (no chunk)', async () => {
      const file = fileOf([]);
      await store.beginUpload('u1', 500);
      expect((await store.commitUpload('u1', file)).created).toBe(true);
      expect(await store.getFile(file.sha256)).toEqual({ ...file, chunks: [] });
    });

    it('stores fetched chunks by invocation and index, ignoring a repeated index, and counts them', async () => {
      expect(await store.fetchedProgress('i1')).toEqual({ count: 0, bytes: 0 });
      expect(await store.putFetchedChunk('i1', 0, Buffer.from('abc'))).toBe(true);
      expect(await store.putFetchedChunk('i1', 0, Buffer.from('zzz'))).toBe(false);
      expect(await store.putFetchedChunk('i1', 1, Buffer.from('de'))).toBe(true);
      expect(await store.putFetchedChunk('i2', 0, Buffer.from('other'))).toBe(true);
      expect(await store.fetchedProgress('i1')).toEqual({ count: 2, bytes: 5 });
      expect(await store.readFetchedChunk('i1', 0)).toEqual(Buffer.from('abc'));
      expect(await store.readFetchedChunk('i1', 2)).toBeNull();
    });

    it('keeps bytes exactly, NUL and high bytes included', async () => {
      const bin = Buffer.from([0, 255, 0, 1, 128, 0]);
      const file = fileOf([bin]);
      await store.beginUpload('u1', 1);
      await store.putUploadChunk('u1', 0, bin);
      await store.commitUpload('u1', file);
      expect(await store.readChunk(file.sha256, 0)).toEqual(bin);
      await store.putFetchedChunk('i1', 0, bin);
      expect(await store.readFetchedChunk('i1', 0)).toEqual(bin);
    });
  });
}
