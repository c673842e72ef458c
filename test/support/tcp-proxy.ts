import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The relay, run as its own process: the test process blocks in `spawnSync` at times (the
 * harness's `warren-controller token …`), and a relay inside it would stall meanwhile. SIGUSR2
 * cuts (drops every relayed connection, stops listening), SIGHUP restores; it prints `up` or
 * `down` once done.
 */
const RELAY = `
const net = require('node:net');
const [host, targetPort] = [process.argv[1], Number(process.argv[2])];
let port = 0;
let server = null;
const sockets = new Set();
function up() {
  if (server) return console.log('up ' + port);
  server = net.createServer((client) => {
    const upstream = net.connect(targetPort, host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    for (const s of [client, upstream]) { sockets.add(s); s.on('error', end).on('close', end); }
    client.pipe(upstream).pipe(client);
  });
  server.listen(port, '127.0.0.1', () => { port = server.address().port; console.log('up ' + port); });
}
function down() {
  for (const s of sockets) s.destroy();
  sockets.clear();
  const s = server;
  server = null;
  if (s) s.close(() => console.log('down')); else console.log('down');
}
process.on('SIGUSR2', down);
process.on('SIGHUP', up);
process.stdin.on('end', () => process.exit(0)).resume();
up();
`;

/**
 * A TCP relay to cut one client off from a server others still reach (e.g. one controller from
 * the shared PostgreSQL): `cut()` drops every relayed connection and refuses new ones, as a server
 * gone away; `restore()` relays again on the same port. The relay exits with the test process
 * (its stdin is a pipe from it).
 */
export class TcpProxy {
  private child: ChildProcess | null = null;
  private output = '';
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  /** Starts the relay on a free port of 127.0.0.1. */
  async start(): Promise<this> {
    const child = spawn(process.execPath, ['-e', RELAY, this.target.host, String(this.target.port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => (this.output += b.toString()));
    const line = await this.next(/^up (\d+)$/m);
    this.port = Number(line.match(/^up (\d+)$/m)![1]);
    return this;
  }

  /** Drops every relayed connection and stops listening: new connections are refused. */
  async cut(): Promise<void> {
    this.output = '';
    this.child?.kill('SIGUSR2');
    await this.next(/^down$/m);
  }

  /** Relays again, on the same port. */
  async restore(): Promise<void> {
    this.output = '';
    this.child?.kill('SIGHUP');
    await this.next(/^up \d+$/m);
  }

  /** Ends the relay. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }

  private async next(re: RegExp): Promise<string> {
    const deadline = Date.now() + 5_000;
    while (!re.test(this.output)) {
      if (Date.now() > deadline) throw new Error(`tcp relay did not say ${re} within 5 s: ${this.output}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.output;
  }
}
