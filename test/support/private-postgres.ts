import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { lockPid, PG_USER, procStartTime, procState, runPg } from './pg-processes';
import { freePort } from './private-broker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Options of a {@link PrivatePostgres}. */
export interface PrivatePostgresOptions {
  /** ms to wait for the server to accept connections after each start (default 60,000) */
  startTimeoutMs?: number;
  /** extra `postgresql.conf` lines */
  config?: string[];
}

/**
 * A PostgreSQL server of a test's own, for faults that must not touch the shared server on 5432:
 * `initdb` into a fresh temp directory owned by `postgres`, trust auth, its own free TCP port on
 * 127.0.0.1 and its own unix socket directory, started and stopped with `pg_ctl`. Every binary
 * runs as the `postgres` user through `runuser` (the server refuses root).
 *
 * Each process of the server is recognised by its command line: the postmaster's names this data
 * directory, and every backend's starts `postgres: <cluster_name>:` with a name unique to this
 * instance. Backends run in sessions of their own and are re-parented when the postmaster dies, so
 * neither the process group nor the parent would find them all.
 *
 * `initdb` + the first start take about 2 s on two cores: share one instance per spec file
 * (`beforeAll`) and always {@link destroy} it in `afterAll`.
 */
export class PrivatePostgres {
  /** Every instance this process made, killed and removed on exit if a test forgot to. */
  private static readonly live = new Set<PrivatePostgres>();
  /** the temp directory: `data/` (PGDATA), `sock/` (unix socket), `server.log` */
  readonly dir: string;
  /** `cluster_name`, which every backend shows in its command line */
  readonly clusterName = `warren-t-${process.pid}-${randomBytes(3).toString('hex')}`;
  private destroyed = false;
  /** ms the last start took, `pg_ctl start` to the first accepted connection */
  lastStartMs = 0;

  private constructor(
    readonly port: number,
    private readonly opts: PrivatePostgresOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'warren-pg-'));
  }

  /** Creates (initdb) and starts a fresh instance; resolves once it accepts connections. */
  static async start(opts: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
    const pg = new PrivatePostgres(await freePort(), opts);
    PrivatePostgres.live.add(pg);
    try {
      await pg.init();
      await pg.start();
    } catch (err) {
      await pg.destroy();
      throw err;
    }
    return pg;
  }

  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the maintenance database, trust auth. */
  get url(): string {
    return this.urlFor('postgres');
  }

  /** The URL of database `name` on this instance (create it first: {@link createDatabase}). */
  urlFor(name: string): string {
    return `postgres://${PG_USER}@127.0.0.1:${this.port}/${encodeURIComponent(name)}`;
  }

  /** PGDATA */
  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The server's log so far (its stderr, through `pg_ctl -l`), for failure messages. */
  get log(): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Runs one statement on database `db` (default `postgres`) over a connection of its own. */
  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    db = 'postgres',
  ): Promise<R[]> {
    const c = new Client({ connectionString: this.urlFor(db), connectionTimeoutMillis: 5_000 });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as R[];
    } finally {
      await c.end();
    }
  }

  /** Creates an empty database `name` (letters, digits, `_`) and returns its URL. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    await this.query(`CREATE DATABASE ${name}`);
    return this.urlFor(name);
  }

  /**
   * Starts the server (after {@link stop} or {@link killHard}) on the same port and data directory;
   * resolves once it accepts connections. After a SIGKILL the server replays its WAL first.
   */
  async start(): Promise<void> {
    if (this.destroyed) throw new Error('private postgres destroyed');
    const started = Date.now();
    const timeoutMs = this.opts.startTimeoutMs ?? 60_000;
    // After a SIGKILL the lock files name a dead postmaster. PostgreSQL starts over such a file,
    // unless the pid still answers a signal: a zombie does, and where PID 1 reaps no orphans (as in
    // this sandbox) the killed postmaster stays one. A dead pid's lock file is stale either way.
    for (const lock of [join(this.dataDir, 'postmaster.pid'), join(this.dir, 'sock', `.s.PGSQL.${this.port}.lock`)]) {
      const pid = lockPid(lock);
      if (pid !== null && [null, 'Z'].includes(procState(pid))) rmSync(lock, { force: true });
    }
    try {
      await runPg(
        'pg_ctl',
        [
          'start',
          '-w',
          '-t',
          String(Math.ceil(timeoutMs / 1000)),
          '-D',
          this.dataDir,
          '-l',
          join(this.dir, 'server.log'),
        ],
        timeoutMs + 5_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.log.slice(-4000)}`, { cause: err });
    }
    // pg_ctl -w waits for the postmaster's "ready" mark; a connection proves the TCP listener too.
    for (;;) {
      try {
        await this.query('SELECT 1');
        break;
      } catch (err) {
        if (Date.now() - started > timeoutMs)
          throw new Error(`private postgres on ${this.port} not up within ${timeoutMs} ms: ${(err as Error).message}`, {
            cause: err,
          });
        await sleep(100);
      }
    }
    this.lastStartMs = Date.now() - started;
  }

  /** Stops the server cleanly (`pg_ctl stop -m fast`: sessions are ended, a checkpoint is written). */
  async stop(): Promise<void> {
    if ((await this.pids()).length === 0) return;
    await runPg('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', this.dataDir]);
    await this.waitGone(30_000);
  }

  /** SIGKILLs the postmaster and every backend, as a power cut would; resolves once no process of it is left. */
  async killHard(): Promise<void> {
    const postmaster = this.postmasterPid();
    if (postmaster && this.isOurs(postmaster)) PrivatePostgres.kill(postmaster);
    const deadline = Date.now() + 10_000;
    // A SIGKILLed process still exiting has released its memory, so its command line reads empty
    // and it no longer looks like ours, yet its state is still R or D: wait on every pid once seen.
    // The start time tells such a pid from a reuse of it by some other process, never to be killed.
    const seen = new Map<number, string | null>();
    const alive = (): number[] => {
      for (const pid of this.pidsSync()) if (!seen.has(pid)) seen.set(pid, procStartTime(pid));
      return [...seen]
        .filter(([pid, t]) => t !== null && procStartTime(pid) === t && ![null, 'Z'].includes(procState(pid)))
        .map(([pid]) => pid);
    };
    for (let left = alive(); left.length > 0; left = alive()) {
      if (Date.now() > deadline)
        throw new Error(`processes of ${this.clusterName} survived SIGKILL: ${left.join(', ')}`);
      left.forEach(PrivatePostgres.kill);
      await sleep(50);
    }
  }

  /** Stops the server cleanly if it runs, then starts it again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /**
   * Pids of the live processes of this server: the postmaster and every backend (checkpointer,
   * walwriter, client sessions…), whether or not the postmaster still lives. Zombies are left out.
   */
  pids(): Promise<number[]> {
    return Promise.resolve(this.pidsSync());
  }

  /** Stops (hard, if a clean stop fails) and removes the directory; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    PrivatePostgres.live.delete(this);
    await this.stop().catch(() => undefined);
    await this.killHard().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async init(): Promise<void> {
    const uid = Number(execFileSync('id', ['-u', PG_USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', PG_USER], { encoding: 'utf8' }).trim());
    mkdirSync(join(this.dir, 'sock'));
    for (const d of [this.dir, join(this.dir, 'sock')]) chownSync(d, uid, gid);
    // --no-sync: a test's cluster need not survive an OS crash, only a server crash (the page cache does).
    await runPg('initdb', ['-D', this.dataDir, '-U', PG_USER, '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const conf = [
      `port = ${this.port}`,
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${join(this.dir, 'sock')}'`,
      `cluster_name = '${this.clusterName}'`,
      // Small and quiet: several of these may run beside the shared server on two cores.
      'shared_buffers = 16MB',
      'max_connections = 200',
      // A crash (SIGKILL) keeps what the kernel was given; only an OS crash would need fsync.
      'fsync = off',
      'log_min_messages = warning',
      ...(this.opts.config ?? []),
    ];
    writeFileSync(join(this.dataDir, 'postgresql.auto.conf'), conf.join('\n') + '\n');
    chownSync(join(this.dataDir, 'postgresql.auto.conf'), uid, gid);
  }

  /** The postmaster's pid from `postmaster.pid`, or null when the file is absent. */
  private postmasterPid(): number | null {
    return lockPid(join(this.dataDir, 'postmaster.pid'));
  }

  /** True when `pid`'s command line is this server's postmaster (names this PGDATA) or one of its backends. */
  private isOurs(pid: number): boolean {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      return false;
    }
    // A backend rewrites its whole command line; the postmaster keeps `…/bin/postgres -D <PGDATA>`.
    if (argv[0].startsWith(`postgres: ${this.clusterName}:`)) return true;
    return argv[0].endsWith('/postgres') && argv.includes(this.dataDir);
  }

  private pidsSync(): number[] {
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (pid === process.pid || !this.isOurs(pid)) continue;
      const state = procState(pid);
      if (state !== null && state !== 'Z') out.push(pid);
    }
    return out;
  }

  private async waitGone(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.pids()).length > 0) {
      if (Date.now() > deadline)
        throw new Error(`private postgres ${this.clusterName} did not exit within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  private static kill(pid: number): void {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }

  static {
    // A test that throws before afterAll must not leave a server behind.
    process.once('exit', () => {
      for (const pg of PrivatePostgres.live) {
        pg.pidsSync().forEach(PrivatePostgres.kill);
        rmSync(pg.dir, { recursive: true, force: true });
      }
    });
  }
}
