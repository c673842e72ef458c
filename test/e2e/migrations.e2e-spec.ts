import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../apps/controller/src/store/database';
import { MIGRATIONS } from '../../apps/controller/src/store/migrations';
import { migratePostgres } from '../../apps/controller/src/store/migrations/pg-migrator';
import { openPostgres, type PgPool } from '../../apps/controller/src/store/postgres/pg.database';
import { freshDatabase, type TestDatabase } from '../support/postgres';

/**
 * The built `warren-controller` against databases migrated by a newer build: it refuses to start
 * with one line and no stack trace; `migrate --dry-run` reports and changes nothing.
 */
const ROOT = resolve(__dirname, '../..');
const TOO_NEW =
  'warren-controller: database schema is at version 4, newer than this warren-controller knows (3): upgrade warren-controller, or point --db elsewhere\n';
const later = (dialect: 'sqlite' | 'postgres') => [
  ...MIGRATIONS[dialect],
  { version: MIGRATIONS[dialect].length + 1, name: 'later', sql: 'CREATE TABLE later (x INTEGER)' },
];

/** Runs `bin/warren-controller.js args`; resolves with its exit status and output (killed after 30 s). */
function controller(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin/warren-controller.js'), ...args],
      { timeout: 30_000, env: { PATH: process.env.PATH ?? '' } },
      (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

const dirs: string[] = [];
const databases: TestDatabase[] = [];
const pools: PgPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await Promise.all(databases.map((d) => d.drop()));
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});
async function pgDatabase(): Promise<{ url: string; pool: PgPool }> {
  const db = await freshDatabase('e2e_migrate');
  databases.push(db);
  const pool = openPostgres(db.url, { max: 2 });
  pools.push(pool);
  return { url: db.url, pool };
}
const tables = async (pool: PgPool) =>
  (await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`)).rows.length;

describe('warren-controller on a database newer than it', () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'warren-e2e-migrate-'));
    dirs.push(stateDir);
    openDatabase(join(stateDir, 'controller.db'), { migrateOptions: { migrations: later('sqlite') } }).close();
  });
  const serveArgs = ['--port', '0', '--broker', 'amqp://guest:guest@127.0.0.1:1', '--namespace', 'wmig'];

  it('refuses to start on the SQLite file, printing the one line and no stack trace', async () => {
    const out = await controller([...serveArgs, '--state-dir', stateDir]);
    expect(out).toEqual({ code: 1, stdout: '', stderr: TOO_NEW });
  });

  it('refuses to start on the PostgreSQL database, printing the one line', async () => {
    const { url, pool } = await pgDatabase();
    await migratePostgres(pool, { migrations: later('postgres') });
    const out = await controller([...serveArgs, '--state-dir', stateDir, '--db', url]);
    expect(out).toEqual({ code: 1, stdout: '', stderr: TOO_NEW });
  });

  it('migrate refuses it too, with exit 1 and the one line', async () => {
    expect(await controller(['migrate', '--state-dir', stateDir])).toEqual({ code: 1, stdout: '', stderr: TOO_NEW });
  });
});

describe('warren-controller migrate on PostgreSQL', () => {
  it('--dry-run says what it would apply and changes nothing; migrate applies it once', async () => {
    const { url, pool } = await pgDatabase();
    const dry = await controller(['migrate', '--dry-run', '--db', url]);
    expect(dry).toEqual({
      code: 0,
      stdout: `${url}: at schema version 0 (empty)\nwould apply 0001_initial\nwould apply 0002_files\nwould apply 0003_active_by_task\ndry run: nothing changed\n`,
      stderr: '',
    });
    expect(await tables(pool)).toBe(0);
    const real = await controller(['migrate', '--db', url]);
    expect(real.stdout).toBe(
      `${url}: at schema version 0 (empty)\napplied 0001_initial\napplied 0002_files\napplied 0003_active_by_task\n${url}: now at schema version 3\n`,
    );
    expect((await pool.query(`SELECT version FROM schema_migrations ORDER BY version`)).rows).toEqual([
      { version: 1 },
      { version: 2 },
      { version: 3 },
    ]);
    expect((await controller(['migrate', '--dry-run', '--db', url])).stdout).toBe(
      `${url}: at schema version 3, the newest this warren-controller knows: nothing to do\n`,
    );
  });
});
