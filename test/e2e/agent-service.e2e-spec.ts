import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentCgroupParent } from '../support/agent-cgroups';
import { LAB_POLICY, Proc, until, Warren } from './harness';

const ROOT = resolve(__dirname, '../..');

/** The `NAME=value` lines systemd's EnvironmentFile= takes from docs/examples/agent.env (comments skipped). */
function exampleEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(ROOT, 'docs/examples/agent.env'), 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

/**
 * Issue 15, item 3: the agent started as docs/examples/warren-agent.service starts it: its
 * settings from agent.env only (files of this run in place of /etc/warren's, the password from a
 * password file), as root, in a cgroup of its own handed over to it as Delegate=yes does
 * (`<our cgroup>/<ns>-warren-agent.service`, where systemd would have `system.slice/warren-agent.service`).
 */
describe('the agent run as the example systemd unit', () => {
  const w = new Warren();
  const unitCgroup = join(agentCgroupParent()!, `${w.ns}-warren-agent.service`);
  const passwordFile = join(w.dir, 'broker-password');
  const procs: Proc[] = [];
  let env: Record<string, string>;

  /** Starts `bin/warren-agent.js` inside the unit's cgroup (the shell moves itself in, then execs Node). */
  function startAsUnit(overrides: Record<string, string> = {}): Proc {
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        'echo $$ > "$0/cgroup.procs" && exec "$@"',
        unitCgroup,
        process.execPath,
        join(ROOT, 'bin/warren-agent.js'),
      ],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, ...overrides }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const p = new Proc(child);
    procs.push(p);
    return p;
  }

  beforeAll(async () => {
    await w.startController();
    mkdirSync(unitCgroup);
    const broker = new URL(w.brokerUrl);
    writeFileSync(passwordFile, `${decodeURIComponent(broker.password)}\n`, { mode: 0o600 });
    broker.password = '';
    const example = exampleEnv();
    env = {
      ...example,
      // This run's files in place of /etc/warren's and /var/lib/warren's; the host id as written.
      WARREN_BROKER_URL: broker.toString(),
      WARREN_BROKER_PASSWORD_FILE: passwordFile,
      WARREN_TRUST: w.controllerPublicKey,
      WARREN_POLICY: LAB_POLICY,
      WARREN_STATE_DIR: join(w.dir, 'var-lib-warren-agent'),
      // This run's namespace, and heartbeats the controller notices quickly.
      WARREN_NAMESPACE: w.ns,
      WARREN_PRESENCE_INTERVAL: '1s',
    };
    // Every setting the example sets is one this run replaced or keeps as written.
    expect(Object.keys(example).sort()).toEqual(
      [
        'WARREN_BROKER_PASSWORD_FILE',
        'WARREN_BROKER_URL',
        'WARREN_HOST_ID',
        'WARREN_POLICY',
        'WARREN_STATE_DIR',
        'WARREN_TRUST',
      ].sort(),
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    try {
      writeFileSync(join(unitCgroup, 'cgroup.kill'), '1');
    } catch {
      // not made
    }
    const dirs = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .flatMap((d) => [...dirs(join(dir, d.name)), join(dir, d.name)]);
    for (const dir of [...dirs(unitCgroup), unitCgroup]) {
      await until(() => {
        try {
          rmdirSync(dir);
          return true;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code === 'ENOENT';
        }
      }, 5_000).catch(() => undefined);
    }
    await w.teardown();
  });

  it('finds its delegated cgroup, runs each command in a cgroup under it, and passes no WARREN_* variable on', async () => {
    const host = env.WARREN_HOST_ID;
    const agent = startAsUnit();
    w.agents.set(host, agent); // so that teardown deletes its queue
    const tracking = JSON.parse(await agent.waitFor(/"process tracking"/));
    expect(tracking).toMatchObject({ processTracking: 'cgroup', path: join(unitCgroup, `warren.${w.ns}.${host}`) });
    await until(async () => {
      const { hosts } = (await w.api('GET', '/v1/hosts')).body as { hosts: { host: string; status: string }[] };
      return hosts.some((h) => h.host === host && h.status === 'online');
    }, 20_000);

    const done = await w.runAndWait({ command: 'cat /proc/self/cgroup; env', hosts: [host] });
    expect(done.results[0]).toMatchObject({ state: 'succeeded', exitCode: 0 });
    const stdout: string = done.results[0].stdout;
    expect(stdout).toMatch(
      new RegExp(`^0::\\S*/${w.ns}-warren-agent\\.service/warren\\.${w.ns}\\.${host}/run-[0-9a-f]+$`, 'm'),
    );
    expect(stdout).toMatch(/^PATH=/m); // the environment is there, without the agent's settings
    expect(stdout).not.toMatch(/^WARREN_/m);

    // systemctl stop: SIGTERM to the agent (KillMode=mixed); a clean exit, which Restart=on-failure leaves stopped.
    await agent.stop('SIGTERM');
    expect(await agent.exited).toBe(0);
  });

  it('exits 2 on a configuration error, which RestartPreventExitStatus=2 does not restart', async () => {
    const agent = startAsUnit({ WARREN_BROKER_URL: 'amqp://guest:pw-in-url-7731@127.0.0.1:5672' });
    expect(await agent.exited).toBe(2);
    expect(agent.output).toMatch(/WARREN_BROKER_PASSWORD_FILE.*a --broker URL has a password too/);
    expect(agent.output).not.toContain('pw-in-url-7731');
  });
});
