import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@warren/runtime';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationFailedError, SchemaTooNewError } from '../../errors/errors';
import { SqliteHostKeyRepository } from '../../hosts/sqlite-host-key.repository';
import { type Db, openDatabase } from '../database';
import { SqliteTaskStore } from '../sqlite-task.store';
import { MIGRATIONS, type Migration } from './index';
import { migrateSqlite, sqliteSchemaVersion } from './sqlite-migrator';

/**
 * The oldest schema Warren ever wrote to its SQLite file: tasks and invocations of the first
 * controller (75e6d8d), api_tokens, audit_log and host_keys as they first shipped (5f907f2).
 */
const OLDEST_SCHEMA = `
CREATE TABLE tasks (id TEXT PRIMARY KEY, command TEXT NOT NULL, cwd TEXT, env TEXT NOT NULL, timeout_ms INTEGER NOT NULL,
  delivery_timeout_ms INTEGER NOT NULL, kill_grace_ms INTEGER NOT NULL, state TEXT NOT NULL, created_at INTEGER NOT NULL,
  finished_at INTEGER, host_count INTEGER NOT NULL);
CREATE INDEX tasks_by_created ON tasks(created_at DESC);
CREATE TABLE invocations (id TEXT PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(id), host TEXT NOT NULL,
  state TEXT NOT NULL, exit_code INTEGER, signal TEXT, stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '',
  stdout_bytes INTEGER NOT NULL DEFAULT 0, stderr_bytes INTEGER NOT NULL DEFAULT 0, stdout_truncated INTEGER NOT NULL DEFAULT 0,
  stderr_truncated INTEGER NOT NULL DEFAULT 0, reason TEXT, started_at INTEGER, finished_at INTEGER, duration_ms INTEGER,
  deadline_at INTEGER, updated_at INTEGER NOT NULL, UNIQUE (task_id, host));
CREATE INDEX invocations_by_task ON invocations(task_id);
CREATE INDEX invocations_active_deadline ON invocations(deadline_at) WHERE state IN ('pending', 'running');
CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')), host_patterns TEXT, hash TEXT NOT NULL,
  created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER);
CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, source TEXT,
  action TEXT NOT NULL, decision TEXT NOT NULL, reason TEXT, task_id TEXT, hosts TEXT, command TEXT, cwd TEXT,
  env_names TEXT, run_as TEXT, invocation_id TEXT, detail TEXT);
CREATE TABLE host_keys (host TEXT NOT NULL, key_id TEXT NOT NULL, public_key TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'retired')), first_seen_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL, accepted_at INTEGER, accepted_by TEXT, PRIMARY KEY (host, key_id));
CREATE UNIQUE INDEX host_keys_one_accepted ON host_keys(host) WHERE status = 'accepted';
INSERT INTO tasks VALUES ('t_old', 'uptime', NULL, '{}', 10000, 5000, 1000, 'completed', 100, 900, 2);
INSERT INTO invocations (id, task_id, host, state, exit_code, stdout, stdout_bytes, started_at, finished_at, duration_ms, updated_at)
  VALUES ('i_1', 't_old', 'web1', 'succeeded', 0, 'up 3 days', 9, 200, 300, 100, 310),
         ('i_2', 't_old', 'web2', 'failed', 2, '', 0, 200, 400, 200, 410);
INSERT INTO api_tokens VALUES ('tok_1', 'alice', 'admin', NULL, 'h4sh', 50, NULL, NULL);
INSERT INTO audit_log (at, actor, action, decision, task_id) VALUES (100, 'alice', 'task.create', 'allowed', 't_old');
INSERT INTO host_keys VALUES ('web1', 'k1', 'PUBKEY', 'accepted', 10, 20, 15, 'alice');
`;

const TABLES = [
  'tasks',
  'invocations',
  'api_tokens',
  'audit_log',
  'host_keys',
  'host_key_rejections',
  'host_key_pre_accepts',
  'hosts',
  'files',
  'file_chunks',
  'file_uploads',
  'fetched_chunks',
  'schema_migrations',
];

/** What `schema_migrations` holds once every migration of this code is applied at the test clock. */
const ALL_RECORDED = [
  { version: 1, name: 'initial', applied_at: 1_700_000_000_000 },
  { version: 2, name: 'files', applied_at: 1_700_000_000_000 },
  { version: 3, name: 'active_by_task', applied_at: 1_700_000_000_000 },
];

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const freshPath = () => {
  const d = mkdtempSync(join(tmpdir(), 'warren-migrate-'));
  dirs.push(d);
  return join(d, 'controller.db');
};
const write = (path: string, sql: string) => {
  const raw = new Database(path);
  raw.exec(sql);
  raw.close();
};
const tables = (db: Db) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all() as { name: string }[])
    .map((r) => r.name)
    .filter((n) => n !== 'sqlite_sequence');
const recorded = (db: Db) =>
  db.prepare(`SELECT version, name, applied_at FROM schema_migrations ORDER BY version`).all();
/** The version after this code's newest: a migration the next release would add. */
const NEXT = MIGRATIONS.sqlite.length + 1;
const v2: Migration = {
  version: NEXT,
  name: 'notes',
  sql: `CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);`,
};
const clock = new ManualClock(1_700_000_000_000);

describe('SQLite migrations', () => {
  it('brings an empty file to the newest version: every table, one schema_migrations row each', () => {
    const path = freshPath();
    const db = openDatabase(path, { migrate: false });
    const report = migrateSqlite(db, { clock });
    expect(report).toMatchObject({ from: 0, to: 3, legacy: false, dryRun: false });
    expect(report.applied.map((m) => m.version)).toEqual([1, 2, 3]);
    expect(tables(db)).toEqual([...TABLES].sort());
    expect(recorded(db)).toEqual(ALL_RECORDED);
    expect(migrateSqlite(db, { clock }).applied).toEqual([]);
    db.close();
  });

  it('upgrades a file of the oldest schema in place: rows intact, sent_at = updated_at, version 1 recorded', async () => {
    const path = freshPath();
    write(path, OLDEST_SCHEMA);
    const db = openDatabase(path, { migrate: false });
    expect(sqliteSchemaVersion(db)).toEqual({ version: 0, legacy: true });
    const report = migrateSqlite(db, { clock });
    expect(report).toMatchObject({ from: 0, to: 3, legacy: true });
    expect(recorded(db)).toEqual(ALL_RECORDED);
    expect(tables(db)).toEqual([...TABLES].sort());
    expect(
      db.prepare(`SELECT id, host, sent_at, updated_at, stdout_raw, stdout_utf8 FROM invocations ORDER BY id`).all(),
    ).toEqual([
      { id: 'i_1', host: 'web1', sent_at: 310, updated_at: 310, stdout_raw: null, stdout_utf8: null },
      { id: 'i_2', host: 'web2', sent_at: 410, updated_at: 410, stdout_raw: null, stdout_utf8: null },
    ]);
    expect(db.prepare(`SELECT live, run_as, concurrency FROM tasks`).get()).toEqual({
      live: 1,
      run_as: null,
      concurrency: null,
    });
    expect(db.prepare(`SELECT actor, count FROM audit_log`).get()).toEqual({ actor: 'alice', count: 1 });
    expect(db.prepare(`SELECT name, role, hash FROM api_tokens`).get()).toEqual({
      name: 'alice',
      role: 'admin',
      hash: 'h4sh',
    });
    expect(db.prepare(`SELECT labels, accepted_labels, last_sent_at FROM host_keys`).get()).toEqual({
      labels: '{}',
      accepted_labels: null,
      last_sent_at: 0,
    });
    // the stores read it as any version-1 file
    const store = new SqliteTaskStore(db);
    expect((await store.getInvocations('t_old')).map((i) => [i.host, i.state, i.sentAt])).toEqual([
      ['web1', 'succeeded', 310],
      ['web2', 'failed', 410],
    ]);
    expect(await store.rollingTaskIds()).toEqual([]);
    expect((await new SqliteHostKeyRepository(db).listAccepted()).map((k) => k.host)).toEqual(['web1']);
    db.close();
  });

  it('opening a legacy file migrates it by default; a second open finds nothing to do', () => {
    const path = freshPath();
    write(path, OLDEST_SCHEMA);
    openDatabase(path).close();
    const db = openDatabase(path, { migrate: false });
    expect(sqliteSchemaVersion(db)).toEqual({ version: 3, legacy: false });
    expect(migrateSqlite(db).applied).toEqual([]);
    db.close();
  });

  it('applies only the migrations a file at the previous version lacks', () => {
    const path = freshPath();
    openDatabase(path).close();
    const db = openDatabase(path, { migrate: false });
    const report = migrateSqlite(db, { migrations: [...MIGRATIONS.sqlite, v2], clock });
    expect(report).toMatchObject({ from: NEXT - 1, to: NEXT });
    expect(report.applied.map((m) => m.name)).toEqual(['notes']);
    expect(recorded(db).map((r) => (r as { version: number }).version)).toEqual([1, 2, 3, 4]);
    expect(tables(db)).toContain('notes');
    db.close();
  });

  it('refuses a file newer than the code with one line, and leaves it as it was', () => {
    const path = freshPath();
    openDatabase(path, { migrateOptions: { migrations: [...MIGRATIONS.sqlite, v2] } }).close();
    let err: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toBe(
      'database schema is at version 4, newer than this warren-controller knows (3): upgrade warren-controller, or point --db elsewhere',
    );
    const db = openDatabase(path, { readonly: true });
    expect(sqliteSchemaVersion(db).version).toBe(4);
    db.close();
  });

  it('rolls a failing migration back whole: no part of it, no row, still at the version before', () => {
    const path = freshPath();
    openDatabase(path).close();
    const broken: Migration = {
      version: NEXT,
      name: 'broken',
      sql: `CREATE TABLE half (x); INSERT INTO nowhere VALUES (1);`,
    };
    const db = openDatabase(path, { migrate: false });
    expect(() => migrateSqlite(db, { migrations: [...MIGRATIONS.sqlite, broken] })).toThrow(MigrationFailedError);
    expect(() => migrateSqlite(db, { migrations: [...MIGRATIONS.sqlite, broken] })).toThrow(
      /^migration 0004_broken failed, nothing of it applied: no such table: nowhere$/,
    );
    expect(tables(db)).not.toContain('half');
    expect(sqliteSchemaVersion(db).version).toBe(3);
    db.close();
  });

  it('commits a migration only with its schema_migrations row: when recording it fails, nothing of it stays', () => {
    const path = freshPath();
    openDatabase(path).close();
    const sneaky: Migration = {
      version: NEXT,
      name: 'sneaky',
      sql: `CREATE TABLE half (x); INSERT INTO schema_migrations VALUES (${NEXT}, 'other', 0);`,
    };
    const db = openDatabase(path, { migrate: false });
    expect(() => migrateSqlite(db, { migrations: [...MIGRATIONS.sqlite, sneaky] })).toThrow(
      /^migration 0004_sneaky failed, nothing of it applied: UNIQUE constraint failed/,
    );
    expect(tables(db)).not.toContain('half');
    expect(sqliteSchemaVersion(db).version).toBe(3);
    db.close();
  });

  it('with dryRun, reports what it would apply and changes nothing', () => {
    const path = freshPath();
    write(path, OLDEST_SCHEMA);
    const db = openDatabase(path, { readonly: true });
    const report = migrateSqlite(db, { dryRun: true });
    expect(report).toMatchObject({ from: 0, to: 0, legacy: true, dryRun: true });
    expect(report.applied.map((m) => m.version)).toEqual([1, 2, 3]);
    db.close();
    const again = openDatabase(path, { migrate: false });
    expect(sqliteSchemaVersion(again)).toEqual({ version: 0, legacy: true });
    expect(tables(again)).not.toContain('hosts');
    again.close();
  });

  it('opens read-only only a file that exists, and creates nothing', () => {
    const path = freshPath();
    expect(() => openDatabase(path, { readonly: true })).toThrow();
    expect(existsSync(path)).toBe(false);
  });
});
