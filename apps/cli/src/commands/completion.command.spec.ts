import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli, useFakeController } from '../cli.program.fixtures';
import { typedGlobals } from './completion.command';

const home = mkdtempSync(join(tmpdir(), 'warren-complete-home-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('warren completion <shell>', () => {
  it('prints the script for each shell and exits 0, with no controller and a bad WARREN_URL', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const r = await cli(['completion', shell], { WARREN_URL: 'ftp://nowhere' });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^(#compdef warren\\n)?# ${shell} completion for warren`));
    }
  });

  it('is a usage error (exit 2) for a shell it has no script for, or none', async () => {
    const tcsh = await cli(['completion', 'tcsh']);
    expect(tcsh.code).toBe(2);
    expect(tcsh.stderr).toMatch(/'tcsh' is invalid .*Allowed choices are bash, zsh, fish/);
    expect(tcsh.stdout).toBe('');
    expect((await cli(['completion'])).code).toBe(2);
  });

  it('is listed in warren --help, and its --help says how to install it in each shell', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/completion <shell> +print a shell completion script/);
    expect((await cli(['--help'])).stdout).not.toMatch(/__complete/);
    const help = await cli(['completion', '--help']);
    expect(help.stdout).toMatch(/source <\(warren completion bash\)/);
    expect(help.stdout).toMatch(/warren completion fish > ~\/\.config\/fish\/completions\/warren\.fish/);
  });
});

describe('warren __complete hosts|tasks (what the scripts call)', () => {
  const ctl = useFakeController();
  const hostList = {
    hosts: [{ host: 'web1' }, { host: 'db-2.eu' }, { host: '$(touch /tmp/x)' }, { host: 'a b' }, { host: 7 }],
  };

  it('prints the host names the controller lists, one a line, dropping any a shell could expand', async () => {
    ctl.route = () => ({ status: 200, body: hostList as never });
    const r = await cli(['__complete', 'hosts'], { WARREN_URL: ctl.url, WARREN_TOKEN: 'wrn_t' });
    expect(r).toEqual({ code: 0, stdout: 'web1\ndb-2.eu\n', stderr: '' });
    expect(ctl.seen.map((s) => s.url)).toEqual(['/v1/hosts']);
  });

  it('prints the newest task ids', async () => {
    ctl.route = () => ({ status: 200, body: { tasks: [{ id: 't_b' }, { id: 't_a' }] } as never });
    const r = await cli(['__complete', 'tasks'], { WARREN_URL: ctl.url, WARREN_TOKEN: 'wrn_t' });
    expect(r).toEqual({ code: 0, stdout: 't_b\nt_a\n', stderr: '' });
    expect(ctl.seen[0].url).toBe('/v1/tasks?limit=50');
  });

  it('uses the --url and --token typed on the line over the environment', async () => {
    ctl.route = () => ({ status: 200, body: hostList as never });
    const r = await cli(['__complete', 'hosts', '--', '--url', ctl.url, '--token=wrn_typed', 'hosts', 'accept'], {
      WARREN_URL: 'http://127.0.0.1:9',
    });
    expect(r.stdout).toBe('web1\ndb-2.eu\n');
  });

  it('prints nothing and exits 0 when it has no token, asking nothing', async () => {
    const r = await cli(['__complete', 'hosts'], { WARREN_URL: ctl.url, HOME: home });
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(ctl.seen).toEqual([]);
  });

  it('prints nothing and exits 0 when the token is refused, or the answer is not JSON', async () => {
    ctl.route = () => ({ status: 401, body: { statusCode: 401, message: 'unknown token' } });
    expect(await cli(['__complete', 'hosts'], { WARREN_URL: ctl.url, WARREN_TOKEN: 'wrn_t' })).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
    ctl.route = () => 'cut';
    expect(await cli(['__complete', 'tasks'], { WARREN_URL: ctl.url, WARREN_TOKEN: 'wrn_t' })).toEqual({
      code: 0,
      stdout: '',
      stderr: '',
    });
  });

  it('prints nothing and exits 0 for a bad URL, a broken token file, or an unknown kind', async () => {
    const quiet = { code: 0, stdout: '', stderr: '' };
    expect(await cli(['__complete', 'hosts'], { WARREN_URL: 'ftp://x', WARREN_TOKEN: 'wrn_t' })).toEqual(quiet);
    expect(await cli(['__complete', 'hosts'], { WARREN_URL: 'not a url', WARREN_TOKEN: 'wrn_t' })).toEqual(quiet);
    const loose = join(home, 'loose');
    mkdirSync(join(loose, '.warren'), { recursive: true });
    writeFileSync(join(loose, '.warren/token'), 'two words\n', { mode: 0o644 });
    expect(await cli(['__complete', 'hosts'], { WARREN_URL: ctl.url, HOME: loose })).toEqual(quiet);
    expect(await cli(['__complete', 'hosts'], { WARREN_URL: 'http://127.0.0.1:9', WARREN_TOKEN: 'wrn_t' })).toEqual(
      quiet,
    );
    expect(await cli(['__complete', 'labels'], { WARREN_URL: ctl.url, WARREN_TOKEN: 'wrn_t' })).toEqual(quiet);
    expect(ctl.seen).toEqual([]);
  });

  it('gives up quietly on a controller that accepts the connection and never answers', async () => {
    const held: Socket[] = [];
    const mute = createServer((s) => void held.push(s));
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(mute.address() as AddressInfo).port}`;
      expect(await cli(['__complete', 'hosts'], { WARREN_URL: url, WARREN_TOKEN: 'wrn_t' })).toEqual({
        code: 0,
        stdout: '',
        stderr: '',
      });
      expect(held.length).toBe(1);
    } finally {
      held.forEach((s) => s.destroy());
      await new Promise((resolve) => mute.close(resolve));
    }
  });
});

describe('typedGlobals', () => {
  it('reads --url, --token and --ca in both spellings, the last one winning, and ignores a flag with no value', () => {
    expect(typedGlobals(['--url', 'http://a', 'run', '--token=t1', '--url=http://b', '--ca', '/ca.pem'])).toEqual({
      url: 'http://b',
      token: 't1',
      ca: '/ca.pem',
    });
    expect(typedGlobals(['hosts', '--url'])).toEqual({});
  });
});
