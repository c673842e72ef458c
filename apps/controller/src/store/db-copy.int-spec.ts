import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@warren/runtime';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../../../test/support/postgres';
import { runMaintenanceCommand } from '../auth/token.commands';
import { parseControllerArgs } from '../config/controller.config';
import { openDatabase } from './database';
import { copySqliteToPostgres } from './db-copy';
import { openPostgres, type PgPool } from './postgres/pg.database';
import { PgTaskStore } from './postgres/pg-task.store';

/** Output that is not UTF-8, with a NUL in it: kept in stdout_raw (BLOB → BYTEA). */
const RAW = Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a]);

/** An installation's file at the newest schema: a task of two hosts, tokens, keys in every state, audit, presence. */
const INSTALLATION = `
INSERT INTO tasks (id, command, cwd, env, timeout_ms, delivery_timeout_ms, kill_grace_ms, state, created_at, finished_at,
                   host_count, run_as, created_by, concurrency, max_errors, live)
  VALUES ('t_1', 'cat /bin/true', '/tmp', '{"A":"1"}', 60000, 5000, 2000, 'completed', 1000, 2000, 2, 'nobody', 'alice', 1, 0, 0),
         ('t_2', 'uptime', NULL, '{}', 60000, 5000, 2000, 'running', 3000, NULL, 1, NULL, 'bob', NULL, NULL, 1);
INSERT INTO invocations (id, task_id, host, state, exit_code, stdout, stderr, stdout_bytes, stdout_truncated,
                         started_at, finished_at, duration_ms, updated_at, stdout_raw, stdout_utf8, stderr_utf8, sent_at)
  VALUES ('i_1', 't_1', 'web1', 'succeeded', 0, '\uFFFD\uFFFDA', 'warn', 5, 1, 1100, 1900, 800, 1900, @raw, 0, 1, 1000),
         ('i_2', 't_1', 'web2', 'failed', 3, 'plain', '', 5, 0, 1100, 1950, 850, 1950, NULL, 1, 1, 1000),
         ('i_3', 't_2', 'db1', 'pending', NULL, '', '', 0, 0, NULL, NULL, NULL, 3000, NULL, NULL, NULL, NULL);
INSERT INTO api_tokens VALUES ('tok_a', 'alice', 'admin', NULL, 'hash-a', 10, 20, NULL),
                              ('tok_b', 'bob', 'operator', '["web*"]', 'hash-b', 11, NULL, 30);
INSERT INTO audit_log (id, at, actor, source, action, decision, task_id, detail, count)
  VALUES (1, 1000, 'alice', '127.0.0.1', 'task.create', 'allowed', 't_1', '{"hosts":2}', 1),
         (2, 1001, 'anonymous', '10.0.0.9', 'api.request', 'denied', NULL, NULL, 979),
         (7, 1002, 'local:root', 'local', 'token.create', 'allowed', NULL, '{"name":"bob"}', 1);
INSERT INTO host_keys (host, key_id, public_key, status, first_seen_at, last_seen_at, accepted_at, accepted_by,
                       last_sent_at, labels, accepted_labels)
  VALUES ('web1', 'k_acc', 'PUB1', 'accepted', 1, 5, 2, 'alice', 5, '{"role":"web"}', '{"role":"web"}'),
         ('web1', 'k_old', 'PUB0', 'retired', 0, 1, 0, 'alice', 1, '{}', '{}'),
         ('web3', 'k_pend', 'PUB3', 'pending', 4, 6, NULL, NULL, 6, '{"role":"db"}', NULL);
INSERT INTO host_key_rejections VALUES ('web9', 'k_bad', 'PUB9', 7, 'alice');
INSERT INTO host_key_pre_accepts VALUES ('web4', 'k_pre', 8, 'alice');
INSERT INTO hosts VALUES ('web1', 'k_acc', 'online', '{"role":"web"}', '1.4.0', 2, 8, 5000, 9, 10),
                         ('web2', 'k_w2', 'goodbye', '{}', '1.3.0', 0, 4, 5000, 11, 12);
`;

const dirs: string[] = [];
const databases: TestDatabase[] = [];
const pools: PgPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(databases.map((d) => d.drop()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** A SQLite file at the newest version holding `sql` (raw statements; `@raw` bound to {@link RAW}). */
function sqliteFile(sql = INSTALLATION, opts: { foreignKeys?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'warren-copy-'));
  dirs.push(dir);
  const path = join(dir, 'controller.db');
  const db = openDatabase(path);
  if (opts.foreignKeys === false) db.pragma('foreign_keys = OFF');
  // better-sqlite3 binds parameters per statement: run the installation one statement at a time.
  for (const statement of sql.split(/;\s*\n/).filter((s) => s.trim() !== ''))
    db.prepare(statement).run(statement.includes('@raw') ? { raw: RAW } : {});
  db.close();
  return path;
}

async function target(): Promise<{ db: TestDatabase; pool: PgPool }> {
  const db = await freshDatabase('copy');
  databases.push(db);
  const pool = openPostgres(db.url, { max: 2 });
  pools.push(pool);
  return { db, pool };
}

/** `warren-controller <argv>` as the command line runs it; its exit status and output. */
async function run(argv: string[]) {
  const { action, config } = parseControllerArgs(argv, {});
  if (action.command === 'serve' || action.command === 'keygen' || action.command === 'openapi')
    throw new Error(`parsed as ${action.command}`);
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
  const code = await runMaintenanceCommand(action, config, io, 'local:tester', new ManualClock(5_000));
  return { code, stdout, stderr };
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const count = async (pool: PgPool, table: string) =>
  Number((await pool.query(`SELECT COUNT(*) AS n FROM ${table}`)).rows[0].n);

describe('warren-controller db copy (SQLite file → real PostgreSQL)', () => {
  let source: string;
  let pg: { db: TestDatabase; pool: PgPool };
  let first: { code: number; stdout: string; stderr: string };
  let sourceHash: string;
  beforeAll(async () => {
    source = sqliteFile();
    sourceHash = sha(source);
    pg = await target();
    first = await run(['db', 'copy', '--from', source, '--to', pg.db.url]);
  });

  it('copies every table and prints the rows copied per table', async () => {
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const expected = {
      tasks: 2,
      invocations: 3,
      api_tokens: 2,
      audit_log: 3,
      host_keys: 3,
      host_key_rejections: 1,
      host_key_pre_accepts: 1,
      hosts: 2,
    };
    for (const [table, n] of Object.entries(expected)) {
      expect(await count(pg.pool, table)).toBe(n);
      expect(first.stdout).toMatch(new RegExp(`^  ${table} +${n}$`, 'm'));
    }
    expect(first.stdout.split('\n')[0]).toBe(`copied ${source} to ${pg.db.url}:`);
  });

  it('turns 0/1 into booleans, keeps BLOB bytes exactly as BYTEA, and every other value as it was', async () => {
    const tasks = await pg.pool.query(`SELECT id, live, env, run_as, created_at, finished_at FROM tasks ORDER BY id`);
    expect(tasks.rows).toEqual([
      { id: 't_1', live: false, env: '{"A":"1"}', run_as: 'nobody', created_at: 1000, finished_at: 2000 },
      { id: 't_2', live: true, env: '{}', run_as: null, created_at: 3000, finished_at: null },
    ]);
    const inv = await pg.pool.query(
      `SELECT id, stdout, stdout_raw, stdout_truncated, stderr_truncated, stdout_utf8, stderr_utf8, sent_at FROM invocations ORDER BY id`,
    );
    expect(inv.rows).toEqual([
      {
        id: 'i_1',
        // text that is not exactly its bytes is kept as the bytes alone, as PgTaskStore stores it
        stdout: '',
        stdout_raw: RAW,
        stdout_truncated: true,
        stderr_truncated: false,
        stdout_utf8: false,
        stderr_utf8: true,
        sent_at: 1000,
      },
      {
        id: 'i_2',
        stdout: 'plain',
        stdout_raw: null,
        stdout_truncated: false,
        stderr_truncated: false,
        stdout_utf8: true,
        stderr_utf8: true,
        sent_at: 1000,
      },
      {
        id: 'i_3',
        stdout: '',
        stdout_raw: null,
        stdout_truncated: false,
        stderr_truncated: false,
        stdout_utf8: null,
        stderr_utf8: null,
        sent_at: null,
      },
    ]);
    const tokens = await pg.pool.query(
      `SELECT name, role, host_patterns, hash, last_used_at, revoked_at FROM api_tokens ORDER BY name`,
    );
    expect(tokens.rows).toEqual([
      { name: 'alice', role: 'admin', host_patterns: null, hash: 'hash-a', last_used_at: 20, revoked_at: null },
      { name: 'bob', role: 'operator', host_patterns: '["web*"]', hash: 'hash-b', last_used_at: null, revoked_at: 30 },
    ]);
    const keys = await pg.pool.query(
      `SELECT host, key_id, status, accepted_labels FROM host_keys ORDER BY host, key_id`,
    );
    expect(keys.rows).toEqual([
      { host: 'web1', key_id: 'k_acc', status: 'accepted', accepted_labels: '{"role":"web"}' },
      { host: 'web1', key_id: 'k_old', status: 'retired', accepted_labels: '{}' },
      { host: 'web3', key_id: 'k_pend', status: 'pending', accepted_labels: null },
    ]);
    expect((await pg.pool.query(`SELECT host, key_id, rejected_by FROM host_key_rejections`)).rows).toEqual([
      { host: 'web9', key_id: 'k_bad', rejected_by: 'alice' },
    ]);
    expect((await pg.pool.query(`SELECT host, key_id FROM host_key_pre_accepts`)).rows).toEqual([
      { host: 'web4', key_id: 'k_pre' },
    ]);
    expect((await pg.pool.query(`SELECT host, status, running, sent_at FROM hosts ORDER BY host`)).rows).toEqual([
      { host: 'web1', status: 'online', running: 2, sent_at: 9 },
      { host: 'web2', status: 'goodbye', running: 0, sent_at: 11 },
    ]);
  });

  it('reads back through the PostgreSQL task store as it was written: output bytes exact, rolling order kept', async () => {
    const store = new PgTaskStore(openPostgres(pg.db.url, { max: 1 }));
    try {
      const out = await store.getOutput('t_1', 'web1', 'stdout');
      expect(out?.bytes).toEqual(RAW);
      const [inv] = await store.getInvocations('t_1');
      expect(inv).toMatchObject({ host: 'web1', stdoutBytes: 5, stdoutTruncated: true, stdoutUtf8: false });
      // seq (PostgreSQL's rowid) was filled in the file's rowid order
      const seq = await pg.pool.query<{ id: string }>(`SELECT id FROM invocations ORDER BY seq`);
      expect(seq.rows.map((r) => r.id)).toEqual(['i_1', 'i_2', 'i_3']);
    } finally {
      await store.close();
    }
  });

  it('keeps the audit ids, and the identity continues after the highest copied one', async () => {
    expect((await pg.pool.query(`SELECT id, actor, count, detail FROM audit_log ORDER BY id`)).rows).toEqual([
      { id: 1, actor: 'alice', count: 1, detail: '{"hosts":2}' },
      { id: 2, actor: 'anonymous', count: 979, detail: null },
      { id: 7, actor: 'local:root', count: 1, detail: '{"name":"bob"}' },
    ]);
    const next = await pg.pool.query(
      `INSERT INTO audit_log (at, actor, action, decision) VALUES (2000, 'alice', 'task.create', 'allowed') RETURNING id`,
    );
    expect(next.rows[0].id).toBe(8);
    await pg.pool.query(`DELETE FROM audit_log WHERE id = 8`);
  });

  it('leaves the source file unchanged', () => {
    expect(sha(source)).toBe(sourceHash);
  });

  it('refuses a second copy into the same database with one line, copying nothing', async () => {
    const again = await run(['db', 'copy', '--from', source, '--to', pg.db.url]);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toBe(
      'warren-controller: the target database already holds rows in tasks, invocations, api_tokens, audit_log, host_keys, host_key_rejections, host_key_pre_accepts, hosts: db copy fills only an empty Warren database (nothing copied)\n',
    );
    expect(await count(pg.pool, 'tasks')).toBe(2);
  });

  it('refuses a file from before versioned migrations, naming the migrate command, and leaves both unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-copy-'));
    dirs.push(dir);
    const legacy = join(dir, 'old.db');
    const raw = new Database(legacy);
    raw.exec(`CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL, host_patterns TEXT,
      hash TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER)`);
    raw.close();
    const before = sha(legacy);
    const empty = await target();
    const out = await run(['db', 'copy', '--from', legacy, '--to', empty.db.url]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `warren-controller: ${legacy} is at schema version 0, not 3: run warren-controller migrate --db ${legacy} first\n`,
    );
    expect(sha(legacy)).toBe(before);
    expect((await empty.pool.query(`SELECT to_regclass('tasks') AS t`)).rows[0].t).toBeNull();
  });

  it('copies all or nothing: a row PostgreSQL refuses leaves every table of the target empty', async () => {
    const orphan = sqliteFile(
      `${INSTALLATION}
      INSERT INTO invocations (id, task_id, host, state, updated_at) VALUES ('i_9', 't_gone', 'web5', 'pending', 1);`,
      { foreignKeys: false },
    );
    const empty = await target();
    await expect(copySqliteToPostgres(orphan, empty.pool)).rejects.toThrow(/foreign key/);
    for (const table of ['tasks', 'invocations', 'api_tokens', 'audit_log', 'hosts'])
      expect(await count(empty.pool, table)).toBe(0);
  });

  it('copies the same rows in batches of any size', async () => {
    const small = await target();
    const counts = await copySqliteToPostgres(source, small.pool, { rows: 2, bytes: 16 });
    expect(counts.map((c) => c.rows)).toEqual([2, 3, 2, 3, 3, 1, 1, 2, 0, 0, 0, 0]);
    expect((await small.pool.query(`SELECT stdout_raw FROM invocations WHERE id = 'i_1'`)).rows[0].stdout_raw).toEqual(
      RAW,
    );
    expect((await small.pool.query(`SELECT id FROM audit_log ORDER BY id`)).rows.map((r) => r.id)).toEqual([1, 2, 7]);
  });
});
