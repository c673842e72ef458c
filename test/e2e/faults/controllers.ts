import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freshDatabase } from '../../support/postgres';
import { exitOf, Proc, SYNC_COMMAND_MS, until, type Warren } from '../harness';

const ROOT = resolve(__dirname, '../../..');

/**
 * Which database the multi-controller fault specs share: `postgres` (the default: a fresh database
 * on the shared server per spec file) or `sqlite` (one SQLite file in WAL mode that every
 * controller opens: the same specs without a database server, to debug the harness). Several
 * processes on one SQLite file is no supported setup: under load their writes collide
 * (`database is locked`, which a POST may answer with 500), so only PostgreSQL counts.
 * Set by `WARREN_FAULT_DB`.
 */
export type FaultDbKind = 'postgres' | 'sqlite';

/** The kind {@link sharedDatabase} makes: `WARREN_FAULT_DB`, default `postgres`. */
export function faultDbKind(env: NodeJS.ProcessEnv = process.env): FaultDbKind {
  const v = env.WARREN_FAULT_DB ?? 'postgres';
  if (v !== 'postgres' && v !== 'sqlite') throw new Error(`WARREN_FAULT_DB must be postgres or sqlite, not ${v}`);
  return v;
}

/** The one database several controllers of a spec file share. */
export interface SharedDatabase {
  kind: FaultDbKind;
  /** what every controller gets as `--db`: `postgres://…/<db>` or a SQLite file path */
  url: string;
  /** Drops the PostgreSQL database (the SQLite file goes with the installation's directory). Idempotent. */
  drop(): Promise<void>;
}

/**
 * The database of one spec file's controllers, of {@link faultDbKind}: a fresh PostgreSQL database
 * named after `label` (drop it in `afterAll`), or `<w.dir>/shared.db`.
 */
export async function sharedDatabase(label: string, w: Warren, kind = faultDbKind()): Promise<SharedDatabase> {
  if (kind === 'sqlite') return { kind, url: join(w.dir, 'shared.db'), drop: () => Promise.resolve() };
  const db = await freshDatabase(label);
  return { kind, url: db.url, drop: () => db.drop() };
}

/** One controller process of a {@link Controllers} set. */
export interface ControllerProc {
  name: string;
  proc: Proc;
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/**
 * Several controllers of one installation ({@link Warren}: its namespace, broker and signing key)
 * sharing one database, each its own process, port and state directory. The agents started through
 * `w` trust the one key (`--key w.controllerKeyPath`, written by the first controller started).
 *
 * `w.api`, `w.cli` and the fault {@link Ledger} talk to `w.url`: {@link use} points it at one
 * controller. Start these instead of `w.startController()`; stop them with {@link teardown} before
 * `w.teardown()`. (The cluster harness of the multi-controller issue does the same; to reconcile.)
 */
export class Controllers {
  readonly byName = new Map<string, ControllerProc>();

  constructor(
    private readonly w: Warren,
    /** the database every controller gets as `--db` */
    readonly db: SharedDatabase,
  ) {}

  /**
   * Starts controller `name` (a restart if it ran and exited before: same state directory; throws
   * if it still runs); resolves once it listens and answers `/healthz`. The first start then
   * creates the admin token `w.token` in the shared database, and points `w.url` at this
   * controller if nothing else is in use yet. `opts.brokerUrl` replaces the installation's
   * `--broker` (e.g. a cluster's URLs in another order, so that controllers start on other nodes).
   */
  async start(
    name: string,
    args: string[] = ['--auto-accept'],
    env: Record<string, string> = {},
    opts: { brokerUrl?: string } = {},
  ): Promise<ControllerProc> {
    // A second process under one name would escape teardown.
    if (this.byName.get(name)?.proc.alive) throw new Error(`controller ${name} is running already`);
    const stateDir = join(this.w.dir, `controller-${name}`);
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/warren-controller.js'),
        '--port',
        '0',
        '--state-dir',
        stateDir,
        '--db',
        this.db.url,
        '--key',
        this.w.controllerKeyPath,
        '--namespace',
        this.w.ns,
        '--broker',
        opts.brokerUrl ?? this.w.brokerUrl,
        ...args,
      ],
      {
        // The same graces as harness.ts, which the Ledger's deadlines assume.
        env: {
          ...process.env,
          WARREN_LOG_LEVEL: 'debug',
          WARREN_RESULT_GRACE: '1s',
          WARREN_DELIVERY_GRACE: '1s',
          WARREN_QUEUE_TYPE: this.w.queueType,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        // A build without PostgreSQL takes `postgres://…` for a relative SQLite path: keep it in here.
        cwd: this.w.dir,
      },
    );
    const proc = new Proc(child);
    const c: ControllerProc = { name, proc, url: '' };
    this.byName.set(name, c);
    const line = await proc.waitFor(/"controller listening"/, 30_000);
    c.url = `http://127.0.0.1:${JSON.parse(line).port}`;
    await until(async () => (await fetch(`${c.url}/healthz`)).ok);
    // After the first start, which migrated the database (an empty PostgreSQL has no tables before it).
    if (!this.w.token) this.w.token = this.command(['token', 'create', '--name', 'e2e', '--role', 'admin']).trim();
    if (!this.w.url || !this.live().some((o) => o.url === this.w.url)) this.use(name);
    return c;
  }

  /** The controller called `name`; throws if none was started. */
  get(name: string): ControllerProc {
    const c = this.byName.get(name);
    if (!c) throw new Error(`no controller ${name}`);
    return c;
  }

  /** Points `w.url` (so `w.api`, `w.cli`, `w.startAgent` and the Ledger) at controller `name`. */
  use(name: string): ControllerProc {
    const c = this.get(name);
    this.w.url = c.url;
    return c;
  }

  /** The controllers whose process is alive. */
  live(): ControllerProc[] {
    return [...this.byName.values()].filter((c) => c.proc.alive);
  }

  /** `<method> <path>` on controller `name` with the admin token, as `w.api` does on `w.url`. */
  async api(name: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.w.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.get(name).url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /**
   * Resolves once controller `name` lists every one of `hosts` with an accepted key: what it needs
   * to send them commands by name (an offline host is sent to all the same). Presence (`online`) is
   * not waited for: these specs are about faults, not heartbeats, and on a loaded machine a host may
   * show offline for a moment on one controller (several processes recording every heartbeat).
   */
  async waitHosts(name: string, hosts: string[], timeoutMs = 30_000): Promise<void> {
    let last: unknown = null;
    const ready = (h: { trust: string }) => h.trust === 'accepted';
    await until(async () => {
      const res = await this.api(name, 'GET', '/v1/hosts');
      last = res.body;
      const seen = (res.body.hosts as { host: string; trust: string }[]).filter(ready);
      return hosts.every((h) => seen.some((s) => s.host === h));
    }, timeoutMs).catch((err: Error) => {
      throw new Error(`controller ${name}: not every one of ${hosts.join(' ')} ready: ${JSON.stringify(last)}`, {
        cause: err,
      });
    });
  }

  /** Every controller's output so far, concatenated (JSON lines), for counting log events across them. */
  logs(): string {
    return [...this.byName.values()].map((c) => c.proc.output).join('\n');
  }

  /**
   * What each controller that exited printed outside its JSON log lines (an uncaught exception's
   * stack, say), by name; empty for one that was SIGKILLed or stopped cleanly. For `afterAll`, so a
   * crash shows its cause rather than only the refused connections that followed it.
   */
  crashReports(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const c of this.byName.values()) {
      if (c.proc.alive) continue;
      const text = c.proc.output
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith('{'))
        .join('\n');
      if (text) out[c.name] = text.slice(-4000);
    }
    return out;
  }

  /** `warren-controller <args> --db <shared db>` (tokens, keys…); returns stdout, throws on a non-zero exit. */
  command(args: string[]): string {
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/warren-controller.js'), ...args, '--state-dir', this.w.dir, '--db', this.db.url],
      { encoding: 'utf8', cwd: this.w.dir, timeout: SYNC_COMMAND_MS, killSignal: 'SIGKILL' },
    );
    if (r.status !== 0) throw new Error(`warren-controller ${args.join(' ')} ${exitOf(r)}: ${r.stderr}`);
    return r.stdout;
  }

  /** SIGKILLs every controller still running (before `w.teardown()`, which knows nothing of them). */
  async teardown(): Promise<void> {
    await Promise.all([...this.byName.values()].map((c) => c.proc.stop('SIGKILL')));
  }
}
