-- Warren controller schema, version 2 (PostgreSQL): file transfer (issue 16, docs/files.md). The
-- PostgreSQL twin is ../sqlite/0002_files.sql: keep the two in step.

-- Uploaded files (`POST /v1/files`), by content: any controller reads them, so a cp task can be re-run.
CREATE TABLE files (
  sha256 TEXT PRIMARY KEY,
  size BIGINT NOT NULL,
  -- the name given at the first upload; NULL if none
  name TEXT,
  -- JSON array of the lowercase hex SHA-256 of each 512 KiB chunk, in order (the manifest's `chunks`)
  chunk_hashes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT
);

-- The bytes of each file, in 512 KiB chunks. While an upload is under way its chunks are kept under
-- `file_key` = 'upload:<id>' (see file_uploads); the commit renames them to the file's SHA-256.
CREATE TABLE file_chunks (
  file_key TEXT NOT NULL,
  idx INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (file_key, idx)
);

-- Uploads under way: a row from the first chunk to the commit or abort; a stale one (its controller
-- died mid-upload) is removed with its chunks by the next upload's sweep.
CREATE TABLE file_uploads (
  id TEXT PRIMARY KEY,
  started_at BIGINT NOT NULL
);

-- Chunks of fetched files (`warren fetch`), as each host's agent sent them, by invocation.
CREATE TABLE fetched_chunks (
  invocation_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (invocation_id, idx)
);

-- A task's file transfer (JSON, see TaskTransfer) and stdin file (JSON, see TaskStdin); NULL: none.
ALTER TABLE tasks ADD COLUMN transfer TEXT;
ALTER TABLE tasks ADD COLUMN stdin TEXT;
-- The file an invocation's agent reported with its result (JSON {sha256, size, changed}); NULL: none.
ALTER TABLE invocations ADD COLUMN result_file TEXT;
