import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

/**
 * The short end-to-end check `scripts/ci-node-matrix.sh` runs on each other Node.js major (the full
 * suite runs on the machine's Node): a controller on its SQLite store (the native better-sqlite3
 * addon, rebuilt for that Node's ABI), two agents, a task sent with the CLI, live and waited for.
 * Every process is started with the Node that runs this spec (`process.execPath`).
 */
describe('smoke: a controller, two agents, a task through the CLI', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await Promise.all([w.startAgent('h1'), w.startAgent('h2')]);
  }, 60_000);
  afterAll(() => w.teardown());

  it("runs a command on both hosts and gives each host's output, exit code and state", async () => {
    const ok = await w.cli(['run', 'echo hello', '--hosts', 'h1,h2', '--wait', '--json']);
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    const task = JSON.parse(ok.stdout);
    expect(task.state).toBe('completed');
    expect(task.results).toEqual([
      expect.objectContaining({ host: 'h1', state: 'succeeded', exitCode: 0, stdout: 'hello\n' }),
      expect.objectContaining({ host: 'h2', state: 'succeeded', exitCode: 0, stdout: 'hello\n' }),
    ]);
    const bad = await w.cli(['run', 'echo oops >&2; exit 3', '--hosts', 'h2', '--wait', '--json']);
    expect(bad.code).toBe(1); // a host did not succeed: documented exit status 1
    expect(JSON.parse(bad.stdout).results).toEqual([
      expect.objectContaining({ host: 'h2', state: 'failed', exitCode: 3, stderr: 'oops\n' }),
    ]);
  });

  it('streams output live with --stream, and every process runs on the Node.js under test', async () => {
    const r = await w.cli(['run', 'echo one; echo two >&2', '--hosts', 'h1,h2', '--stream']);
    expect(r.code).toBe(0);
    for (const h of ['h1', 'h2']) {
      expect(r.stdout).toContain(`${h} | one`);
      expect(r.stdout).toContain(`${h} ! two`);
    }
    const hosts = await w.cli(['hosts', '--json']);
    expect(JSON.parse(hosts.stdout).hosts.map((h: { host: string; status: string }) => [h.host, h.status])).toEqual([
      ['h1', 'online'],
      ['h2', 'online'],
    ]);
    // prom-client's default metrics name the Node.js the controller runs on.
    const metrics = await fetch(`${w.url}/metrics`, { headers: { authorization: `Bearer ${w.token}` } });
    expect(await metrics.text()).toContain(`warren_controller_nodejs_version_info{version="${process.version}"`);
  });
});
