import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warren } from './harness';

/** The hostile output: retitles the terminal, recolours it, and rewrites the line with CR. */
const HOSTILE = `printf '\\033]0;owned\\007\\033[31mred\\033[0m\\rX\\n'`;
const ESC = '\u001b';

/** Issue 12's edges (items 4, 5 and 7) through a real controller, real agents and the real CLI. */
describe('honest at the edges: limits, terminal safety, order and names', () => {
  const w = new Warren();

  beforeAll(async () => {
    await w.startController();
    await Promise.all(['web1', 'web2', 'web10', 'Web01.Example.COM'].map((h) => w.startAgent(h)));
  }, 60_000);
  afterAll(() => w.teardown());

  it('refuses at once, with a 400 naming the field and the limit, what no host could run', async () => {
    const big = await w.api('POST', '/v1/tasks', { command: `echo ${'ｈ'.repeat(60_000)}`, hosts: ['web1'] });
    expect(big.status).toBe(400);
    expect(big.body.message).toEqual([
      'command is 180005 bytes of UTF-8; at most 65536 bytes (Linux refuses one argument of 131072 bytes or more)',
    ]);
    const rel = await w.api('POST', '/v1/tasks', { command: 'pwd', hosts: ['web1'], cwd: 'docs' });
    expect(rel.status).toBe(400);
    expect(rel.body.message).toEqual(['cwd must be an absolute path (starting with /), got "docs"']);
    const cli = await w.cli(['run', 'pwd', '--hosts', 'web1', '--cwd', 'docs', '--wait']);
    expect(cli).toMatchObject({ code: 2, stdout: '' });
    expect(cli.stderr).toMatch(/^warren: --cwd must be an absolute path/);
    expect((await w.api('GET', '/v1/tasks?limit=100')).body.tasks).toHaveLength(0);
  });

  it('shows what a host prints escaped in human output, as it came with --raw, and exactly in --json', async () => {
    const wait = await w.cli(['run', HOSTILE, '--hosts', 'web1', '--wait']);
    expect(wait.code).toBe(0);
    expect(wait.stdout).not.toContain(ESC);
    expect(wait.stdout).not.toContain('\r');
    expect(wait.stdout).toContain('    \\x1b]0;owned\\a\\x1b[31mred\\x1b[0m\\rX\n');
    const stream = await w.cli(['run', 'printf "first\\rsecond\\n"', '--hosts', 'web1', '--stream']);
    expect(stream.stdout).toContain('web1 | first\\rsecond\n');
    const raw = await w.cli(['run', HOSTILE, '--hosts', 'web1', '--wait', '--raw']);
    expect(raw.stdout).toContain(`${ESC}]0;owned\u0007${ESC}[31mred${ESC}[0m\rX`);
    const json = JSON.parse((await w.cli(['run', HOSTILE, '--hosts', 'web1', '--wait', '--json'])).stdout);
    expect(json.results[0].stdout).toBe(`${ESC}]0;owned\u0007${ESC}[31mred${ESC}[0m\rX\n`);
  });

  it('lists results in natural order, in the CLI and the JSON', async () => {
    const r = await w.cli(['run', 'true', '--hosts', 'web10', 'web2', 'web1', '--wait']);
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .split('\n')
        .filter((l) => /^web/.test(l))
        .map((l) => l.split(' ')[0]),
    ).toEqual(['web1', 'web2', 'web10']);
    const task = await w.runAndWait({ command: 'true', hosts: ['web10', 'web2', 'web1'] });
    expect(task.results.map((x) => x.host)).toEqual(['web1', 'web2', 'web10']);
  });

  it('keeps a host named in other letter case unknown_host, and says which known host it differs from', async () => {
    const r = await w.cli(['run', 'true', '--hosts', 'web01.example.com', '--wait']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^web01\.example\.com +unknown_host +.*Web01\.Example\.COM is known \(differs only in case\)/m,
    );
  });
});
