import { describe, expect, it } from 'vitest';
import { runCli } from '../cli.program';
import type { FetchFn } from '../http/controller.client';
import { result, task, webHosts } from '../render/task.fixtures';

/** 5 web hosts: 4 print the same, web03 fails. */
const FLEET = task([
  ...webHosts(5).map((h) =>
    h === 'web03' ? result(h, { state: 'failed', exitCode: 1, stderr: 'no\n' }) : result(h, { stdout: 'same\n' }),
  ),
]);

function controller(): { fetch: FetchFn; calls: string[] } {
  const calls: string[] = [];
  const fetch: FetchFn = async (url, init) => {
    calls.push(`${init.method} ${new URL(url).pathname}`);
    const body = init.method === 'POST' ? { id: 't_abc', hosts: webHosts(5), state: 'running' } : FLEET;
    return {
      ok: true,
      status: init.method === 'POST' ? 202 : 200,
      statusText: '',
      headers: new Headers(),
      text: async () => JSON.stringify(body),
      arrayBuffer: async () => new TextEncoder().encode(JSON.stringify(body)).buffer,
    };
  };
  return { fetch, calls };
}

async function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const { fetch, calls } = controller();
  const code = await runCli(
    argv,
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: {} },
    { fetch, poll: { waitMs: 1, minIntervalMs: 0, retryDelayMs: 1, maxFailures: 1, outageMs: 0 } },
  );
  return { code, stdout, stderr, calls };
}

describe('--collapse', () => {
  it('groups identical hosts in `run --wait` and lists the failed ones by name', async () => {
    const r = await cli(['run', 'x', '--hosts', 'web01', '--wait', '--collapse']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '==== web[01-02,04-05] (4) succeeded exit 0 ====\n    same\n==== web03 (1) failed exit 1  10 ms ====\n    ! no\n',
    );
    expect(r.stdout).toMatch(/\nfailed \(1\): web03\n$/);
  });

  it('gives groups instead of results with `check --json`', async () => {
    const r = await cli(['check', 't_abc', '--collapse', '--json']);
    const doc = JSON.parse(r.stdout);
    expect(doc.results).toBeUndefined();
    expect(doc.groups.map((g: { folded: string; count: number }) => [g.folded, g.count])).toEqual([
      ['web[01-02,04-05]', 4],
      ['web03', 1],
    ]);
    expect(r.code).toBe(1);
  });

  it('leaves `--json` without `--collapse` as the API answers it', async () => {
    const r = await cli(['check', 't_abc', '--json']);
    expect(JSON.parse(r.stdout).results).toHaveLength(5);
  });

  it('is a usage error on `run` without `--wait`, and sends nothing', async () => {
    const r = await cli(['run', 'x', '--hosts', 'web01', '--collapse']);
    expect(r).toMatchObject({ code: 2, stdout: '', calls: [] });
    expect(r.stderr).toBe('warren: --collapse needs --wait (without it, run prints only the task id)\n');
  });

  it('is documented in --help', async () => {
    expect((await cli(['run', '--help'])).stdout).toMatch(/--collapse\s+with --wait: print hosts with identical/);
    expect((await cli(['check', '--help'])).stdout).toMatch(/--collapse\s+print hosts with identical/);
    expect((await cli(['--help'])).stdout).toMatch(/shell\s+an interactive prompt/);
  });
});
