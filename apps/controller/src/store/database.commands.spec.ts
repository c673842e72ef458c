import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@warren/runtime';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { runMaintenanceCommand } from '../auth/token.commands';
import { ConfigError, parseControllerArgs } from '../config/controller.config';
import { openDatabase } from './database';
import { migrationLines } from './database.commands';
import { rowBatches } from './db-copy';
import { MIGRATIONS } from './migrations';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const freshDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'warren-dbcmd-'));
  dirs.push(d);
  return d;
};

/** `warren-controller <argv>`: exit status and output. */
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

describe('warren-controller migrate (SQLite)', () => {
  it('migrates the --db file, printing the version it was at and each migration applied; then finds nothing to do', async () => {
    const db = join(freshDir(), 'controller.db');
    expect(await run(['migrate', '--db', db])).toEqual({
      code: 0,
      stdout: `${db}: at schema version 0 (empty)\napplied 0001_initial\napplied 0002_files\napplied 0003_active_by_task\n${db}: now at schema version 3\n`,
      stderr: '',
    });
    expect(await run(['migrate', '--db', db])).toEqual({
      code: 0,
      stdout: `${db}: at schema version 3, the newest this warren-controller knows: nothing to do\n`,
      stderr: '',
    });
  });

  it('uses <state-dir>/controller.db without --db', async () => {
    const dir = freshDir();
    expect((await run(['migrate', '--state-dir', dir])).stdout).toContain('applied 0001_initial');
    expect(existsSync(join(dir, 'controller.db'))).toBe(true);
  });

  it('with --dry-run says what it would apply to a legacy file, and leaves the file as it was', async () => {
    const db = join(freshDir(), 'controller.db');
    const raw = new Database(db);
    raw.exec(`CREATE TABLE api_tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
      host_patterns TEXT, hash TEXT NOT NULL, created_at INTEGER NOT NULL, last_used_at INTEGER, revoked_at INTEGER)`);
    raw.close();
    const before = sha(db);
    expect(await run(['migrate', '--dry-run', '--db', db])).toEqual({
      code: 0,
      stdout: `${db}: at schema version 0 (a file from before versioned migrations)\nwould apply 0001_initial\nwould apply 0002_files\nwould apply 0003_active_by_task\ndry run: nothing changed\n`,
      stderr: '',
    });
    expect(sha(db)).toBe(before);
  });

  it('with --dry-run does not create a file that does not exist', async () => {
    const db = join(freshDir(), 'nope', 'controller.db');
    expect((await run(['migrate', '--dry-run', '--db', db])).stdout).toBe(
      `${db}: at schema version 0 (empty)\nwould apply 0001_initial\nwould apply 0002_files\nwould apply 0003_active_by_task\ndry run: nothing changed\n`,
    );
    expect(existsSync(db)).toBe(false);
  });

  it('refuses a file newer than this binary with exit 1 and the one line, with and without --dry-run', async () => {
    const db = join(freshDir(), 'controller.db');
    const v2 = { version: MIGRATIONS.sqlite.length + 1, name: 'later', sql: 'CREATE TABLE later (x INTEGER)' };
    openDatabase(db, { migrateOptions: { migrations: [...MIGRATIONS.sqlite, v2] } }).close();
    const line =
      'warren-controller: database schema is at version 4, newer than this warren-controller knows (3): upgrade warren-controller, or point --db elsewhere\n';
    expect(await run(['migrate', '--db', db])).toEqual({ code: 1, stdout: '', stderr: line });
    expect(await run(['migrate', '--dry-run', '--db', db])).toEqual({ code: 1, stdout: '', stderr: line });
  });
});

describe('migrationLines', () => {
  it('names the version reached when another process applied the migrations after this one looked', () => {
    const report = { dialect: 'sqlite' as const, from: 0, to: 1, applied: [], legacy: false, dryRun: false };
    expect(migrationLines('c.db', report)).toEqual([
      'c.db: at schema version 1, the newest this warren-controller knows: nothing to do',
    ]);
  });
});

describe('warren-controller db copy (arguments)', () => {
  it('takes only a postgres:// URL for --to, and needs --from', () => {
    expect(() => parseControllerArgs(['db', 'copy', '--from', 'a.db', '--to', 'b.db'], {})).toThrow(
      new ConfigError("option '--to <url>' argument 'b.db' is invalid. --to: must be a postgres:// URL"),
    );
    expect(() => parseControllerArgs(['db', 'copy', '--to', 'postgres://h/d'], {})).toThrow(/--from <file>/);
    expect(parseControllerArgs(['db', 'copy', '--from', 'a.db', '--to', 'postgresql://h/d'], {}).action).toEqual({
      command: 'db copy',
      from: 'a.db',
      to: 'postgresql://h/d',
    });
  });

  it('says in one line, exit 1, that PostgreSQL cannot be reached (migrate and db copy)', async () => {
    expect(await run(['migrate', '--db', 'postgres://warren:secret@127.0.0.1:1/none'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'warren-controller: cannot reach postgres://warren:***@127.0.0.1:1/none: connect ECONNREFUSED 127.0.0.1:1\n',
    });
    const from = join(freshDir(), 'controller.db');
    openDatabase(from).close();
    expect((await run(['db', 'copy', '--from', from, '--to', 'postgres://127.0.0.1:1/none'])).stderr).toBe(
      'warren-controller: cannot reach postgres://127.0.0.1:1/none: connect ECONNREFUSED 127.0.0.1:1\n',
    );
  });

  it('refuses a --from file that does not exist, with one line', async () => {
    const from = join(freshDir(), 'missing.db');
    expect(await run(['db', 'copy', '--from', from, '--to', 'postgres://127.0.0.1:1/none'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `warren-controller: db copy: ${from}: no such file\n`,
    });
    expect(existsSync(from)).toBe(false);
  });
});

describe('rowBatches', () => {
  it('reads rows one batch at a time, closing a batch at its row or byte bound', () => {
    let pulled = 0;
    function* rows(): Generator<[number, string]> {
      for (let i = 0; i < 7; i++) {
        pulled++;
        yield [i, i === 3 ? 'x'.repeat(100) : 'y'];
      }
    }
    const batches = rowBatches(rows(), { rows: 3, bytes: 50 });
    expect(batches.next().value).toEqual([
      [0, 'y'],
      [1, 'y'],
      [2, 'y'],
    ]);
    expect(pulled).toBe(3);
    expect((batches.next().value as [number, string][]).map((r) => r[0])).toEqual([3]);
    expect([...batches].map((b) => b.map((r) => r[0]))).toEqual([[4, 5, 6]]);
  });
});
