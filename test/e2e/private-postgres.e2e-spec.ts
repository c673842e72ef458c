import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres } from '../support/private-postgres';

/** `/proc/<pid>/stat`'s state letter, or `gone`. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return 'gone';
  }
}

/** The fault tests' own PostgreSQL: apart from the shared server, and really stopped, killed and restarted. */
describe('private PostgreSQL instance', () => {
  let pg: PrivatePostgres;

  beforeAll(async () => {
    pg = await PrivatePostgres.start();
  }, 90_000);
  afterAll(async () => {
    await pg?.destroy();
  });

  it('runs on a port of its own, not the shared 5432, as the postgres user, with a process per backend', async () => {
    expect(pg.port).not.toBe(5432);
    expect(pg.url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);
    const [row] = await pg.query<{ port: string; cluster: string }>(
      "SELECT current_setting('port') AS port, current_setting('cluster_name') AS cluster",
    );
    expect(row).toEqual({ port: String(pg.port), cluster: pg.clusterName });
    const pids = await pg.pids();
    // postmaster, checkpointer, background writer, walwriter, autovacuum launcher…
    expect(pids.length).toBeGreaterThanOrEqual(4);
  });

  it('keeps a committed row across a clean restart, and refuses connections while stopped', async () => {
    const url = await pg.createDatabase('restart_check');
    expect(url).toBe(`postgres://postgres@127.0.0.1:${pg.port}/restart_check`);
    await pg.query('CREATE TABLE t (v TEXT NOT NULL)', [], 'restart_check');
    await pg.query("INSERT INTO t VALUES ('before stop')", [], 'restart_check');
    await pg.stop();
    expect(await pg.pids()).toEqual([]);
    await expect(pg.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await pg.start();
    expect(await pg.query('SELECT v FROM t', [], 'restart_check')).toEqual([{ v: 'before stop' }]);
  }, 60_000);

  it('keeps a committed row across a SIGKILL of the postmaster and every backend, then starts again', async () => {
    await pg.query("INSERT INTO t VALUES ('before kill')", [], 'restart_check');
    const before = await pg.pids();
    await pg.killHard();
    expect(await pg.pids()).toEqual([]);
    // Gone, or a zombie where PID 1 reaps no orphans: either way it runs nothing.
    for (const pid of before) expect(procState(pid), `pid ${pid}`).toMatch(/^(gone|Z)$/);
    await expect(pg.query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await pg.start();
    const rows = await pg.query<{ v: string }>('SELECT v FROM t ORDER BY v', [], 'restart_check');
    expect(rows.map((r) => r.v)).toEqual(['before kill', 'before stop']);
    // The restart after a crash went through recovery, which the log says.
    expect(pg.log).toMatch(/not properly shut down|automatic recovery/);
  }, 60_000);

  it('restart() stops cleanly and starts again on the same port', async () => {
    const port = pg.port;
    await pg.restart();
    expect(pg.port).toBe(port);
    expect(await pg.query('SELECT count(*)::int AS n FROM t', [], 'restart_check')).toEqual([{ n: 2 }]);
  }, 60_000);

  it('destroy() leaves no process and no directory, and may be called twice', async () => {
    const other = await PrivatePostgres.start();
    expect(other.port).not.toBe(pg.port);
    expect((await other.pids()).length).toBeGreaterThan(0);
    await other.destroy();
    expect(await other.pids()).toEqual([]);
    expect(existsSync(other.dir)).toBe(false);
    await other.destroy();
    // The first instance was not touched.
    expect(await pg.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  }, 90_000);
});
