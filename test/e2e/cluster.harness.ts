import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { Proc, until, type Warren } from './harness';

const ROOT = resolve(__dirname, '../..');

/**
 * Another controller of a {@link Warren} installation: its own process and HTTP port, the same
 * namespace, broker, signing key and database (`w.db`) as the installation's first controller.
 * Several such controllers behave as one (see docs/scaling.md).
 */
export class Peer {
  proc: Proc | null = null;
  url = '';

  constructor(
    private readonly w: Warren,
    /** extra flags, after the shared ones (e.g. `--auto-accept`) */
    private readonly args: string[] = [],
  ) {}

  /** Starts (or restarts) this controller; resolves once it listens and reports healthy. */
  async start(): Promise<this> {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin/warren-controller.js'),
        '--port',
        '0',
        '--state-dir',
        this.w.dir,
        '--db',
        this.w.db,
        '--key',
        this.w.controllerKeyPath,
        '--namespace',
        this.w.ns,
        '--broker',
        this.w.brokerUrl,
        ...this.args,
      ],
      {
        env: { ...process.env, WARREN_LOG_LEVEL: 'debug', WARREN_RESULT_GRACE: '1s', WARREN_DELIVERY_GRACE: '1s' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc = new Proc(child);
    const line = await this.proc.waitFor(/"controller listening"/);
    this.url = `http://127.0.0.1:${JSON.parse(line).port}`;
    await until(async () => (await fetch(`${this.url}/healthz`)).ok);
    return this;
  }

  /** One HTTP call to this controller, with the installation's admin token unless `token` gives another. */
  async api(
    method: string,
    path: string,
    body?: unknown,
    token: string = this.w.token,
  ): Promise<{ status: number; body: any }> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }

  /** The `warren` CLI against this controller. */
  cli(args: string[], env: Record<string, string> = {}) {
    return this.w.cli(args, { WARREN_URL: this.url, ...env });
  }

  /** Stops it (SIGTERM: a clean shutdown) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.proc?.stop(signal);
  }
}

/** The installation's first controller as a {@link Peer}-like handle (same `api`), started by `w.startController`. */
export function firstController(w: Warren): Pick<Peer, 'api' | 'cli' | 'url'> {
  return {
    get url() {
      return w.url;
    },
    api: (method, path, body, token = w.token) => w.api(method, path, body, { token }),
    cli: (args, env = {}) => w.cli(args, env),
  };
}
