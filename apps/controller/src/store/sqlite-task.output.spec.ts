import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { encodeCapture, type OutputCapture } from '@warren/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteTaskStore } from './sqlite-task.store';
import type { TaskRecord } from './task-store.port';

const task: TaskRecord = {
  id: 't1',
  command: 'head -c 4096 /dev/urandom',
  cwd: null,
  env: {},
  timeoutMs: 10_000,
  deliveryTimeoutMs: 5_000,
  killGraceMs: 1_000,
  state: 'running',
  createdAt: 1_000,
  finishedAt: null,
  hostCount: 1,
  runAs: null,
  createdBy: 'alice',
};

const EMPTY = encodeCapture(Buffer.alloc(0), 0);

/** What only SQLite's file shows: the contract's output tests (task-store.contract.output.ts) run on every adapter. */
describe('SqliteTaskStore: exact output in the file', () => {
  let dir: string;
  let path: string;
  let store: SqliteTaskStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'warren-store-'));
    path = join(dir, 'db.sqlite');
    store = new SqliteTaskStore(path);
    await store.createTask(task, [{ id: 'i1', host: 'h1', deadlineAt: 7_000 }]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const finish = (stdout: OutputCapture, stderr: OutputCapture = EMPTY) =>
    store.applyUpdates(
      [
        {
          kind: 'result',
          invocationId: 'i1',
          host: 'h1',
          state: 'succeeded',
          exitCode: 0,
          signal: null,
          stdout,
          stderr,
          startedAt: 2_000,
          finishedAt: 3_000,
          durationMs: 1_000,
          reason: null,
        },
      ],
      3_000,
    );
  const rawColumns = () => {
    const db = new Database(path, { readonly: true });
    try {
      return db.prepare(`SELECT stdout_raw, stderr_raw FROM invocations WHERE id = 'i1'`).get();
    } finally {
      db.close();
    }
  };

  it('stores UTF-8 output once, as text, and serves its bytes exactly from it', async () => {
    await finish(encodeCapture(Buffer.from('héllo\n'), 7), encodeCapture(Buffer.alloc(300, 1), 300));
    expect(rawColumns()).toEqual({ stdout_raw: null, stderr_raw: null }); // \u0001 × 300 came as base64, stored as text
    expect((await store.getOutput('t1', 'h1', 'stdout'))!.bytes).toEqual(Buffer.from('héllo\n'));
    expect((await store.getOutput('t1', 'h1', 'stderr'))!.bytes).toEqual(Buffer.alloc(300, 1));
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ stdoutUtf8: true, stderrUtf8: true });
  });

  it('opens a file written before exact output, its rows read as UTF-8 unknown', async () => {
    await finish({ data: 'old text', bytes: 8, truncated: false });
    await store.close();
    const db = new Database(path);
    for (const c of ['stdout_raw', 'stderr_raw', 'stdout_utf8', 'stderr_utf8'])
      db.exec(`ALTER TABLE invocations DROP COLUMN ${c}`);
    // and nothing of schema version 2 (files), which came after versioned migrations
    for (const t of ['files', 'file_chunks', 'file_uploads', 'fetched_chunks']) db.exec(`DROP TABLE ${t}`);
    db.exec(`ALTER TABLE tasks DROP COLUMN transfer`);
    db.exec(`ALTER TABLE tasks DROP COLUMN stdin`);
    db.exec(`ALTER TABLE invocations DROP COLUMN result_file`);
    db.exec(`DROP TABLE schema_migrations`); // as every file written before versioned migrations
    db.close();
    store = new SqliteTaskStore(path);
    expect((await store.getInvocations('t1'))[0]).toMatchObject({ stdoutUtf8: null, stderrUtf8: null });
    expect(await store.getOutput('t1', 'h1', 'stdout')).toMatchObject({ bytes: Buffer.from('old text'), utf8: null });
  });
});
