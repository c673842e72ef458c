import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqplib from 'amqplib';

/** TLS listener of a private node: PEM file paths; the node then also listens with TLS on `tlsPort`. */
export interface PrivateBrokerTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /**
   * Client certificates: `none` (default) asks for none; `verify` checks one against the CA when a
   * client presents it (`verify_peer`); `require` also refuses clients without one.
   */
  clientCerts?: 'none' | 'verify' | 'require';
}

export interface PrivateBrokerOptions {
  tls?: PrivateBrokerTls;
  /** extra `rabbitmq.conf` lines */
  config?: string[];
  /** ms to wait for the node to accept AMQP connections */
  startTimeoutMs?: number;
  /**
   * The Erlang cookie, written to the node's own `$HOME/.erlang.cookie` (mode 0400): nodes that
   * are to form a cluster share one (see `rabbit-cluster.ts`). Default: a random one per node.
   */
  cookie?: string;
  /**
   * Extra Erlang VM flags, appended to `RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS`, e.g. `+sbwt none` (no
   * scheduler busy-waiting: RabbitMQ's runtime-tuning guide advises it where the broker shares its
   * cores with other busy processes).
   */
  erlArgs?: string;
}

/** The directory holding RabbitMQ's own scripts; called directly so that no wrapper switches user. */
const RABBIT_BIN = ['/usr/lib/rabbitmq/bin', '/usr/local/lib/rabbitmq/bin'].find((d) =>
  existsSync(join(d, 'rabbitmq-server')),
);

function bin(name: string): string {
  return RABBIT_BIN ? join(RABBIT_BIN, name) : name;
}

/** A TCP port free on the loopback right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A RabbitMQ node of a test's own: its own node name, AMQP and distribution ports, data, log and
 * cookie directories, no plugins and its own config file, so it can be stopped, killed and
 * reconfigured without touching the shared broker (or its epmd registration, or its cookie).
 *
 * Start takes about 3-4 s on two cores (an Erlang VM boot, plus Mnesia schema creation on the
 * first boot): share one node per spec file (`beforeAll`) and always `destroy()` it in `afterAll`.
 */
export class PrivateBroker {
  /** Every node this process started, destroyed on exit if a test forgot to. */
  private static readonly live = new Set<PrivateBroker>();
  readonly nodename: string;
  readonly dir: string;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private destroyed = false;
  /** ms the last start took, from spawn to the first accepted AMQP connection */
  lastStartMs = 0;

  private constructor(
    readonly port: number,
    readonly distPort: number,
    readonly tlsPort: number | null,
    private readonly opts: PrivateBrokerOptions,
  ) {
    this.nodename = `warren-t-${process.pid}-${randomBytes(3).toString('hex')}@localhost`;
    this.dir = mkdtempSync(join(tmpdir(), 'warren-broker-'));
    for (const d of ['mnesia', 'log', 'home', 'plugins-expand']) mkdirSync(join(this.dir, d));
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
    // Erlang refuses a cookie file others may read; the CLI reads the same file (same $HOME).
    writeFileSync(join(this.dir, 'home', '.erlang.cookie'), opts.cookie ?? randomBytes(16).toString('hex'), {
      mode: 0o400,
    });
    // Stands in for /etc/rabbitmq/rabbitmq-env.conf, which names the shared node.
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    writeFileSync(join(this.dir, 'rabbitmq.conf'), this.configText());
  }

  /** Starts a fresh node and resolves once it accepts AMQP connections. */
  static async start(opts: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
    const [port, distPort, tlsPort] = await Promise.all([
      freePort(),
      freePort(),
      opts.tls ? freePort() : Promise.resolve(null),
    ]);
    const b = new PrivateBroker(port, distPort, tlsPort, opts);
    PrivateBroker.live.add(b);
    try {
      await b.launch();
    } catch (err) {
      await b.destroy();
      throw err;
    }
    return b;
  }

  /** `amqp://user:pass@127.0.0.1:port/vhost` (guest may connect only from the loopback, which this is). */
  url(user = 'guest', pass = 'guest', vhost = '/'): string {
    return `amqp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${this.port}/${encodeURIComponent(vhost)}`;
  }

  /** As {@link url} over TLS; the node's certificate must name `localhost`. */
  tlsUrl(user = 'guest', pass = 'guest', vhost = '/'): string {
    if (this.tlsPort === null) throw new Error('this private broker has no TLS listener');
    return `amqps://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@localhost:${this.tlsPort}/${encodeURIComponent(vhost)}`;
  }

  /** Environment for `rabbitmq-server` and `rabbitmqctl` aimed at this node (scripts use it too). */
  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      // The Erlang cookie lives in $HOME: a private one keeps this node apart from the shared one.
      HOME: join(this.dir, 'home'),
      RABBITMQ_NODENAME: this.nodename,
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(this.dir, 'plugins-expand'),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_PID_FILE: join(this.dir, 'node.pid'),
      // -noinput: the start below asks for an exec'd VM (RABBITMQ_ALLOW_INPUT), which would
      // otherwise start an Erlang shell that exits at stdin's EOF.
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: `-noinput -kernel inet_dist_use_interface {127,0,0,1}${this.opts.erlArgs ? ` ${this.opts.erlArgs}` : ''}`,
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
  }

  /** Runs `rabbitmqctl -n <node> …args`; resolves with stdout, rejects with stderr on failure. */
  ctl(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        bin('rabbitmqctl'),
        ['-n', this.nodename, ...args],
        { env: this.env, timeout: 60_000 },
        (err, stdout, stderr) => {
          if (err) reject(new Error(`rabbitmqctl ${args.join(' ')} failed: ${stderr || stdout || err.message}`));
          else resolve(stdout);
        },
      );
    });
  }

  /**
   * Pids of live processes of this node (beam and its helpers). RabbitMQ 3.10 names the node from
   * the environment, not the command line, so this reads what `ps e` shows: each process's
   * environment, looking for this node's name.
   */
  pids(): Promise<number[]> {
    const needle = Buffer.from(`RABBITMQ_NODENAME=${this.nodename}\0`);
    const out: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        // A zombie's environment reads empty, so only live processes match.
        if (readFileSync(`/proc/${entry}/environ`).includes(needle)) out.push(Number(entry));
      } catch {
        // exited meanwhile, or not ours to read
      }
    }
    return Promise.resolve(out);
  }

  /** Stops the node cleanly (`rabbitmqctl stop`): durable queues and persistent messages are on disk. */
  async stop(): Promise<void> {
    if (!this.child) return;
    await this.ctl('stop').catch(() => this.child?.kill('SIGTERM'));
    await this.waitExit(30_000);
  }

  /** SIGKILLs this node's beam and whatever else its start script left, as a power cut would. */
  async killHard(): Promise<void> {
    if (!this.child) return;
    const beam = this.beamPid();
    if (beam) process.kill(beam, 'SIGKILL');
    // The start script execs into beam, so the child is beam itself; its process group holds
    // the rest (erl_child_setup, inet_gethost), ours alone since it was spawned detached.
    try {
      process.kill(-this.child.pid!, 'SIGKILL');
    } catch {
      // group already gone
    }
    await this.waitExit(10_000);
    // A group member may still be tearing down, and a rabbitmqctl of ours started with this
    // node's environment may be running: neither is in the group beam led, so kill what is
    // left and wait until /proc shows none of it (CI once saw one survive the group kill).
    const deadline = Date.now() + 10_000;
    for (let left = await this.pids(); left.length > 0; left = await this.pids()) {
      if (Date.now() > deadline) throw new Error(`processes of ${this.nodename} survived SIGKILL: ${left.join(', ')}`);
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      await sleep(50);
    }
  }

  /** Starts the node again on the same ports and data directory. */
  async restart(): Promise<void> {
    if (this.destroyed) throw new Error('private broker destroyed');
    if (this.child) await this.stop();
    await this.launch();
  }

  /** Stops (hard, if a clean stop fails) and removes every directory; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    PrivateBroker.live.delete(this);
    if (this.child) {
      await this.ctl('stop').catch(() => undefined);
      if (
        !(await this.waitExit(15_000).then(
          () => true,
          () => false,
        ))
      )
        await this.killHard().catch(() => undefined);
    }
    for (const pid of await this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The node's log so far (its stdout and stderr), for failure messages. */
  get log(): string {
    return this.output;
  }

  private configText(): string {
    const lines = [
      `listeners.tcp.default = 127.0.0.1:${this.port}`,
      'loopback_users.guest = true',
      // A test node needs no disk or memory alarms stopping publishers on a busy CI machine.
      'disk_free_limit.absolute = 1',
      'vm_memory_high_watermark.relative = 0.9',
      'log.console = true',
      'log.console.level = warning',
      'log.file = false',
    ];
    const tls = this.opts.tls;
    if (tls && this.tlsPort !== null) {
      lines.push(
        `listeners.ssl.default = 127.0.0.1:${this.tlsPort}`,
        `ssl_options.cacertfile = ${tls.caFile}`,
        `ssl_options.certfile = ${tls.certFile}`,
        `ssl_options.keyfile = ${tls.keyFile}`,
        `ssl_options.verify = ${(tls.clientCerts ?? 'none') === 'none' ? 'verify_none' : 'verify_peer'}`,
        `ssl_options.fail_if_no_peer_cert = ${tls.clientCerts === 'require'}`,
      );
    }
    return [...lines, ...(this.opts.config ?? [])].join('\n') + '\n';
  }

  private async launch(): Promise<void> {
    const started = Date.now();
    // RABBITMQ_ALLOW_INPUT makes the script exec into the VM (no signal-proxy shell in between),
    // so the child is beam itself and a SIGKILL reaches the broker, not a wrapper.
    const child = spawn(bin('rabbitmq-server'), [], {
      env: { ...this.env, RABBITMQ_ALLOW_INPUT: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    child.stdout?.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-64_000)));
    child.stderr?.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-64_000)));
    this.exited = new Promise((resolve) =>
      child.on('exit', () => {
        if (this.child === child) this.child = null;
        resolve();
      }),
    );
    const deadline = started + (this.opts.startTimeoutMs ?? 60_000);
    for (;;) {
      if (this.child !== child)
        throw new Error(`private broker ${this.nodename} exited during start:\n${this.output.slice(-4000)}`);
      try {
        const c = await amqplib.connect(this.url(), { noDelay: true, timeout: 2_000 });
        await c.close();
        break;
      } catch {
        if (Date.now() > deadline)
          throw new Error(
            `private broker ${this.nodename} not up within ${this.opts.startTimeoutMs ?? 60_000} ms:\n${this.output.slice(-4000)}`,
          );
        await sleep(100);
      }
    }
    this.lastStartMs = Date.now() - started;
  }

  /** The node's Erlang VM (beam.smp), or null when it is not running. */
  beamPid(): number | null {
    try {
      return Number(readFileSync(join(this.dir, 'node.pid'), 'utf8').trim()) || null;
    } catch {
      return this.child?.pid ?? null;
    }
  }

  private async waitExit(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`private broker ${this.nodename} did not exit within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  static {
    // A test that throws before afterAll must not leave a broker behind.
    process.once('exit', () => {
      for (const b of PrivateBroker.live) {
        try {
          if (b.child?.pid) process.kill(-b.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        rmSync(b.dir, { recursive: true, force: true });
      }
    });
  }
}
