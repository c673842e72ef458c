import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cli } from './cli.program.fixtures';

describe('warren without a controller', () => {
  it('exits 3 naming the refused connection when nothing listens on the port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const r = await cli(['hosts', '--url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `warren: cannot reach the controller at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
  });

  it('exits 2 on usage errors before sending anything', async () => {
    const nowhere = { WARREN_URL: 'http://127.0.0.1:9' };
    const duration = await cli(['run', 'true', '--hosts', 'a', '--timeout', 'soon'], nowhere);
    expect(duration.code).toBe(2);
    expect(duration.stderr).toMatch(/^warren: option '--timeout <duration>' argument 'soon' is invalid/);
    const zero = await cli(['run', 'true', '--hosts', 'a', '--delivery-timeout', '0'], nowhere);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/argument '0' is invalid\. Expected a duration above 0: 500ms, 30s, 5m, 1h/);
    const words = await cli(['run', 'df', '/tmp', '--hosts', 'a'], nowhere);
    expect(words).toMatchObject({
      code: 2,
      stderr: 'warren: run takes the command as one argument; quote it: warren run "df /tmp" --hosts …\n',
    });
    expect((await cli(['run', 'true', '--hosts', 'a', '--env', 'NOEQUALS'], nowhere)).code).toBe(2);
    expect((await cli(['run', 'true'], nowhere)).stderr).toMatch(
      /say where to run it: --hosts, --label key=value, or --all/,
    );
    expect((await cli(['frobnicate'], nowhere)).code).toBe(2);
    expect((await cli(['hosts'], { WARREN_URL: 'ftp://x' })).stderr).toMatch(/must start with http/);
  });

  it('prints help with the exit statuses and the version, exiting 0', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit status:\n {2}0 +every host succeeded/);
    expect(help.stdout).toMatch(/ {2}4 +check without --wait: the task is still running/);
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    expect((await cli(['run', '--help'])).code).toBe(0);
  });
});
