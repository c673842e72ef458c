import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts, type TestCerts } from '../support/test-certs';
import { Proc, Warren } from './harness';

const ROOT = resolve(__dirname, '../..');

/** The controller serving HTTPS itself (`--tls-cert`, `--tls-key`), and the CLI trusting a private CA (`--ca`). */
describe('HTTPS between the CLI and the controller', () => {
  const w = new Warren();
  let certs: TestCerts;
  let controller: Proc;
  let port = 0;

  beforeAll(async () => {
    certs = makeTestCerts();
    w.token = w.createToken('e2e', 'admin');
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/warren-controller.js'), '--port', '0', '--state-dir', w.dir, '--db', w.dbPath],
      {
        env: {
          ...process.env,
          WARREN_NAMESPACE: w.ns,
          WARREN_BROKER_URL: w.brokerUrl,
          WARREN_TLS_CERT: certs.serverCertFile,
          WARREN_TLS_KEY: certs.serverKeyFile,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    controller = new Proc(child);
    const line = JSON.parse(await controller.waitFor(/"controller listening"/));
    expect(line).toMatchObject({ scheme: 'https' });
    port = line.port;
  });
  afterAll(async () => {
    await controller?.stop('SIGKILL');
    await w.teardown();
    certs?.remove();
  });

  const hosts = (url: string, env: Record<string, string> = {}, args: string[] = []) =>
    w.cli([...args, 'hosts'], { WARREN_URL: url, ...env });

  it('answers `warren hosts` over https when the CLI trusts the CA (--ca or WARREN_CA)', async () => {
    // No agent runs here: the controller's answer is an empty list, which `warren hosts` says on stderr.
    const answered = { code: 0, stderr: 'warren: no agent has reported to the controller yet\n' };
    const url = `https://localhost:${port}`;
    expect(await hosts(url, {}, ['--ca', certs.caFile])).toMatchObject(answered);
    expect(await hosts(url, { WARREN_CA: certs.caFile })).toMatchObject(answered);
    expect(await hosts(`https://127.0.0.1:${port}`, { WARREN_CA: certs.caFile })).toMatchObject(answered);
  });

  it('refuses a certificate the CLI does not trust, saying to pass --ca (exit 3)', async () => {
    const r = await hosts(`https://localhost:${port}`);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /its TLS certificate is not trusted \([A-Z_]+\): give the CA that signed it with --ca FILE/,
    );
  });

  it('says so when plain http:// is sent to the TLS port (exit 3)', async () => {
    const r = await hosts(`http://127.0.0.1:${port}`, { WARREN_CA: certs.caFile });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/if the controller serves HTTPS, use an https:\/\/ URL/);
  });

  it('refuses a --ca file it cannot read as a usage error (exit 2)', async () => {
    const r = await hosts(`https://localhost:${port}`, {}, ['--ca', join(certs.dir, 'nope.pem')]);
    expect(r).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/cannot read the CA file .*nope\.pem \(--ca\): ENOENT/),
    });
  });
});
