import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AmqpConnection, type AmqpTlsOptions } from '@warren/amqp';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeAgentCgroups } from '../support/agent-cgroups';
import { PrivateBroker } from '../support/private-broker';
import { makeTestCerts, type TestCerts } from '../support/test-certs';
import { LAB_POLICY, Proc, until } from './harness';

const ROOT = resolve(__dirname, '../..');

/** amqps:// with a private CA, on a private node whose TLS listener verifies client certificates it is shown. */
describe('broker TLS (amqps://)', () => {
  let certs: TestCerts;
  let foreign: TestCerts;
  let b: PrivateBroker;
  const dir = mkdtempSync(join(tmpdir(), 'warren-tls-'));
  const procs: Proc[] = [];

  beforeAll(async () => {
    certs = makeTestCerts();
    foreign = makeTestCerts('some-other-ca');
    b = await PrivateBroker.start({
      tls: {
        caFile: certs.caFile,
        certFile: certs.serverCertFile,
        keyFile: certs.serverKeyFile,
        clientCerts: 'verify',
      },
    });
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await removeAgentCgroups('wtls'); // SIGKILLed agents leave their cgroups behind
    await b?.destroy();
    certs?.remove();
    foreign?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Connects once over amqps; resolves 'connected' or the first connect error's message. */
  async function tryConnect(tls: AmqpTlsOptions | undefined): Promise<string> {
    let setupRan = false;
    const conn = new AmqpConnection({
      url: b.tlsUrl(),
      name: 'tls-test',
      logger: pino({ level: 'silent' }),
      tls,
      connectTimeoutMs: 3_000,
      // One attempt is all a test needs: the first failure is reported, the retry never comes.
      reconnect: { initialMs: 60_000, maxMs: 60_000 },
      setup: async (ch) => {
        await ch.assertQueue('tls.check', { durable: false });
        setupRan = true;
      },
    });
    const outcome = new Promise<string>((res) => {
      conn.once('connected', () => res(setupRan ? 'connected' : 'connected without setup'));
      conn.once('reconnect-failed', (err: Error) => res(err.message));
    });
    conn.start();
    try {
      return await outcome;
    } finally {
      await conn.close();
    }
  }

  const pem = (f: string) => readFileSync(f);

  it('connects with the CA that signed the broker certificate, and runs the topology setup over it', async () => {
    expect(await tryConnect({ ca: pem(certs.caFile) })).toBe('connected');
  });

  it('refuses a broker whose certificate it cannot verify without the CA, saying so', async () => {
    expect(await tryConnect(undefined)).toMatch(/self[- ]signed certificate|unable to (verify|get local issuer)/i);
  });

  it('presents a client certificate: one from the broker CA is accepted, one from another CA is refused', async () => {
    expect(
      await tryConnect({ ca: pem(certs.caFile), cert: pem(certs.clientCertFile), key: pem(certs.clientKeyFile) }),
    ).toBe('connected');
    expect(
      await tryConnect({ ca: pem(certs.caFile), cert: pem(foreign.clientCertFile), key: pem(foreign.clientKeyFile) }),
    ).toMatch(/unknown ca/i);
  });

  describe('controller and agent binaries', () => {
    function start(script: string, args: string[], env: Record<string, string> = {}): Proc {
      const child = spawn(process.execPath, [join(ROOT, script), ...args], {
        env: { ...process.env, WARREN_LOG_LEVEL: 'info', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const p = new Proc(child);
      procs.push(p);
      return p;
    }

    it('run a task over amqps with --broker-ca (controller) and WARREN_BROKER_CA (agent) plus a client certificate', async () => {
      const stateArgs = ['--state-dir', dir, '--namespace', 'wtls'];
      const token = await new Promise<string>((res, rej) =>
        execFile(
          process.execPath,
          [join(ROOT, 'bin/warren-controller.js'), 'token', 'create', '--role', 'admin', '--name', 'tls', ...stateArgs],
          (err, stdout, stderr) => (err ? rej(new Error(stderr)) : res(stdout.trim())),
        ),
      );
      const ctl = start('bin/warren-controller.js', [
        '--port',
        '0',
        '--auto-accept',
        '--broker',
        b.tlsUrl(),
        '--broker-ca',
        certs.caFile,
        ...stateArgs,
      ]);
      const url = `http://127.0.0.1:${JSON.parse(await ctl.waitFor(/"controller listening"/)).port}`;
      await ctl.waitFor(/"amqp connected"/);
      const agent = start(
        'bin/warren-agent.js',
        [
          '--host',
          'tls1',
          '--namespace',
          'wtls',
          '--broker',
          b.tlsUrl(),
          '--state-dir',
          join(dir, 'agent'),
          '--trust',
          join(dir, 'controller.pub'),
          '--presence-interval',
          '1s',
          '--policy',
          LAB_POLICY,
          '--broker-cert',
          certs.clientCertFile,
          '--broker-key',
          certs.clientKeyFile,
        ],
        { WARREN_BROKER_CA: certs.caFile },
      );
      await agent.waitFor(/"amqp connected"/);
      const api = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as any };
      };
      await until(
        async () =>
          (await api('GET', '/v1/hosts')).body.hosts?.some(
            (h: { host: string; status: string }) => h.host === 'tls1' && h.status === 'online',
          ),
        20_000,
      );
      const res = await api('POST', '/v1/tasks', { command: 'echo over-tls', hosts: ['tls1'], wait: true });
      expect(res.body.results).toEqual([
        expect.objectContaining({ host: 'tls1', state: 'succeeded', stdout: 'over-tls\n' }),
      ]);
    });

    it('exit 2 naming the flag when a TLS file cannot be read, or a certificate comes without its key', async () => {
      const missing = join(dir, 'no-such-ca.pem');
      const agent = start('bin/warren-agent.js', [
        '--host',
        'x',
        '--trust',
        join(dir, 'controller.pub'),
        '--broker-ca',
        missing,
      ]);
      expect(await agent.exited).toBe(2);
      expect(agent.output).toMatch(/--broker-ca \(WARREN_BROKER_CA\) cannot read .*no-such-ca\.pem.*ENOENT/);
      const halfAgent = start('bin/warren-agent.js', [
        '--host',
        'x',
        '--trust',
        join(dir, 'controller.pub'),
        '--broker-cert',
        certs.clientCertFile,
      ]);
      expect(await halfAgent.exited).toBe(2);
      expect(halfAgent.output).toMatch(/--broker-cert and --broker-key/);
      const ctl = start('bin/warren-controller.js', ['--state-dir', dir, '--broker-ca', missing]);
      expect(await ctl.exited).toBe(2);
      expect(ctl.output).toMatch(/--broker-ca \(WARREN_BROKER_CA\) cannot read .*no-such-ca\.pem.*ENOENT/);
    });
  });
});
