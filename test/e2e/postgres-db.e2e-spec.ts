import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type TestDatabase } from '../support/postgres';
import { Warren } from './harness';

const PASSWORD = 'not-the-db-password-7f3a';

describe('a controller on PostgreSQL (--db postgres://…)', () => {
  const w = new Warren();
  let database: TestDatabase;

  beforeAll(async () => {
    database = await freshDatabase('pgdb');
    // Trust auth ignores the password: it is there to be hidden.
    const u = new URL(database.url);
    u.password = PASSWORD;
    w.db = u.toString();
    await w.startController();
    await w.startAgent('pg1');
  }, 60_000);
  afterAll(async () => {
    await w.teardown();
    await database?.drop();
  });

  it('runs a task, stored in PostgreSQL, and answers /healthz with the database ok', async () => {
    const done = await w.runAndWait({ command: 'echo on-pg', hosts: ['pg1'] });
    expect(done.results[0]).toMatchObject({ state: 'succeeded', stdout: 'on-pg\n' });
    expect((await w.api('GET', '/healthz', undefined, { token: null })).body).toEqual({
      status: 'ok',
      broker: 'connected',
      database: 'ok',
    });
  }, 30_000);

  it('answers 404, not 500, for a task id holding U+0000, which PostgreSQL cannot store', async () => {
    for (const path of ['/v1/tasks/a%00b', '/v1/tasks/a%00b/results/pg1/stdout'])
      expect((await w.api('GET', path)).status).toBe(404);
  });

  it('shows the --db password neither in its command line nor in its log', () => {
    const cmdline = readFileSync(`/proc/${w.controller!.pid}/cmdline`, 'utf8');
    expect(cmdline).not.toContain(PASSWORD);
    expect(cmdline).toContain(':***@');
    expect(w.controller!.output).not.toContain(PASSWORD);
    expect(w.controller!.output).toMatch(/"db":"postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/warren_test_pgdb_/);
  });
});
