import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { agentTopology } from '@warren/protocol';
import * as amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeAgentCgroups } from '../support/agent-cgroups';
import { PrivateBroker } from '../support/private-broker';
import { LAB_POLICY, Proc, until } from './harness';

const ROOT = resolve(__dirname, '../..');
const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/**
 * Least-privilege broker users (scripts/broker-users.sh) on a private node: what an agent's
 * credentials allow and refuse, and a real controller and agent working under them.
 */
describe('broker least privilege', () => {
  const ns = `wp${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'warren-priv-'));
  const pw = {
    web1: `pw-${randomBytes(6).toString('hex')}`,
    web2: `pw-${randomBytes(6).toString('hex')}`,
    ctl: `pw-${randomBytes(6).toString('hex')}`,
  };
  let b: PrivateBroker;
  const procs: Proc[] = [];
  const conns: amqplib.ChannelModel[] = [];

  /** Runs scripts/broker-users.sh against the private node; `stdin` feeds a "-" password. */
  function brokerUsers(args: string[], stdin = ''): Promise<{ code: number; out: string }> {
    return new Promise((res) => {
      const child = execFile(
        join(ROOT, 'scripts/broker-users.sh'),
        ['-n', b.nodename, '--namespace', ns, '--broker-url', b.url(), ...args],
        { env: { ...b.env, RABBITMQCTL }, timeout: 60_000 },
        (err, stdout, stderr) => res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      );
      // A usage error exits before reading stdin.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(stdin);
    });
  }

  async function connectAs(user: string, pass: string): Promise<amqplib.ChannelModel> {
    const c = await amqplib.connect(b.url(user, pass), { noDelay: true });
    c.on('error', () => undefined);
    conns.push(c);
    return c;
  }

  /**
   * Runs `op` on a fresh confirm channel of `conn`; resolves with the broker's refusal, or
   * 'allowed'. A refused publish is reported asynchronously, as a channel error.
   */
  async function attempt(
    conn: amqplib.ChannelModel,
    op: (ch: amqplib.ConfirmChannel) => Promise<unknown>,
  ): Promise<string> {
    const ch = await conn.createConfirmChannel();
    const closedWith = new Promise<string>((r) => ch.on('error', (e: Error) => r(e.message)));
    try {
      const outcome = await Promise.race([op(ch).then(() => 'allowed'), closedWith]);
      await ch.close().catch(() => undefined);
      return outcome;
    } catch (err) {
      return (err as Error).message;
    }
  }

  const publish = (exchange: string, key: string) => async (ch: amqplib.ConfirmChannel) => {
    ch.publish(exchange, key, Buffer.from('{}'), { persistent: true });
    await ch.waitForConfirms();
  };

  beforeAll(async () => {
    b = await PrivateBroker.start();
    for (const [args, stdin] of [
      [['agent', 'web1', pw.web1], ''],
      [['agent', 'web2', pw.web2], ''],
      [['controller', 'ctl', '-'], `${pw.ctl}\n`],
    ] as const) {
      const r = await brokerUsers([...args], stdin);
      if (r.code !== 0) throw new Error(`broker-users.sh ${args[0]} failed: ${r.out}`);
    }
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await removeAgentCgroups(ns); // SIGKILLed agents leave their cgroups behind
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await b?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('provisions exactly the topology libs/protocol declares: inbox arguments, binding, shared names', async () => {
    const { provisionPlan } = await import(pathToFileURL(join(ROOT, 'scripts/broker-provision.mjs')).href);
    expect(provisionPlan(ns, ['web1'])).toEqual(JSON.parse(JSON.stringify(agentTopology(ns, 'web1', 'classic'))));
    for (const type of ['classic', 'quorum'] as const)
      expect(provisionPlan(ns, ['web1'], type)).toEqual(JSON.parse(JSON.stringify(agentTopology(ns, 'web1', type))));
    const bindings = await b.ctl('list_bindings', 'source_name', 'destination_name', 'routing_key');
    expect(bindings).toMatch(new RegExp(`${ns}\\.cmd\\s+${ns}\\.agent\\.web1\\s+web1`));
    expect(bindings).toMatch(new RegExp(`${ns}\\.cmd\\s+${ns}\\.agent\\.web2\\s+web2`));
  });

  it('refuses agent web1 everything but its own inbox, replies and presence', async () => {
    const web1 = await connectAs('web1', pw.web1);
    const refused = /ACCESS_REFUSED/;
    expect(await attempt(web1, publish(`${ns}.cmd`, 'web2'))).toMatch(refused);
    expect(await attempt(web1, publish('', `${ns}.agent.web2`))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.consume(`${ns}.agent.web2`, () => undefined))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.get(`${ns}.agent.web2`))).toMatch(refused);
    // The bind that would let it read web2's commands through its own queue.
    expect(await attempt(web1, (ch) => ch.bindQueue(`${ns}.agent.web1`, `${ns}.cmd`, 'web2'))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.assertQueue(`${ns}.agent.web1x`, { durable: true }))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.deleteQueue(`${ns}.agent.web1`))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.consume(`${ns}.results`, () => undefined))).toMatch(refused);
    // File transfer: another host's chunks, the controllers' fetched chunks, publishing chunks itself.
    expect(await attempt(web1, (ch) => ch.get(`${ns}.chunks.web2`))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.get(`${ns}.fetched`))).toMatch(refused);
    expect(await attempt(web1, publish(`${ns}.chunks`, 'web2'))).toMatch(refused);
    expect(await attempt(web1, (ch) => ch.bindQueue(`${ns}.chunks.web1`, `${ns}.chunks`, 'web2'))).toMatch(refused);
  });

  it('lets agent web1 consume its own inbox and publish replies and presence', async () => {
    const admin = await connectAs('guest', 'guest');
    const web1 = await connectAs('web1', pw.web1);
    expect(await attempt(admin, publish(`${ns}.cmd`, 'web1'))).toBe('allowed');
    let got: amqplib.GetMessage | false = false;
    expect(
      await attempt(web1, async (ch) => (got = await until(() => ch.get(`${ns}.agent.web1`, { noAck: true }), 5_000))),
    ).toBe('allowed');
    expect(got).not.toBe(false);
    expect(await attempt(web1, publish(`${ns}.replies`, `${ns}.results`))).toBe('allowed');
    expect(await attempt(web1, publish(`${ns}.presence`, ''))).toBe('allowed');
    // A fetched file's chunks go to the replies exchange too, routed to the fetched queue.
    expect(await attempt(web1, publish(`${ns}.replies`, `${ns}.fetched`))).toBe('allowed');
    expect(await attempt(admin, publish(`${ns}.chunks`, 'web1'))).toBe('allowed');
    expect(
      await attempt(web1, async (ch) =>
        expect(await until(() => ch.get(`${ns}.chunks.web1`, { noAck: true }), 5_000)).toBeTruthy(),
      ),
    ).toBe('allowed');
    const reply = await attempt(admin, async (ch) => {
      const m = await until(() => ch.get(`${ns}.results`, { noAck: true }), 5_000);
      expect(m.content.toString()).toBe('{}');
    });
    expect(reply).toBe('allowed');
  });

  it("refuses the controller's user every agent inbox", async () => {
    const ctl = await connectAs('ctl', pw.ctl);
    expect(await attempt(ctl, (ch) => ch.get(`${ns}.agent.web1`))).toMatch(/ACCESS_REFUSED/);
    expect(await attempt(ctl, (ch) => ch.bindQueue(`${ns}.agent.web1`, `${ns}.cmd`, 'web2'))).toMatch(/ACCESS_REFUSED/);
    expect(await attempt(ctl, publish(`${ns}.cmd`, 'web1'))).toBe('allowed');
    // File transfer: it publishes chunks for agents and reads the fetched ones, never an agent's chunk queue.
    expect(await attempt(ctl, (ch) => ch.get(`${ns}.chunks.web1`))).toMatch(/ACCESS_REFUSED/);
    expect(await attempt(ctl, publish(`${ns}.chunks`, 'web1'))).toBe('allowed');
    expect(await attempt(ctl, (ch) => ch.get(`${ns}.fetched`))).toBe('allowed');
    const admin = await (await connectAs('guest', 'guest')).createChannel();
    await admin.purgeQueue(`${ns}.agent.web1`);
    await admin.purgeQueue(`${ns}.chunks.web1`);
  });

  it('declares every queue quorum with --queue-type quorum, as an agent of that installation would', async () => {
    const ns2 = `${ns}q`;
    const r = await brokerUsers(['--namespace', ns2, '--queue-type', 'quorum', 'agent', 'web9', pw.web1]);
    expect(r).toMatchObject({ code: 0, out: expect.stringContaining('6 quorum queues') });
    const types = await b.ctl('list_queues', 'name', 'type', '--no-table-headers');
    for (const q of ['results', 'undelivered', 'fetched', 'agent.web9', 'ctl.web9', 'chunks.web9'])
      expect(types).toMatch(new RegExp(`^${ns2}\\.${q.replace('.', '\\.')}\\s+quorum$`, 'm'));
    // The same installation provisioned again with the other type: the broker refuses, the script says so.
    const again = await brokerUsers(['--namespace', ns2, 'agent', 'web9', pw.web1]);
    expect(again.code).toBe(1);
    expect(again.out).toContain("inequivalent arg 'x-queue-type'");
  });

  it('rejects bad input to the script with a usage error', async () => {
    expect(await brokerUsers(['--queue-type', 'mirrored', 'agent', 'web1', 'pw'])).toMatchObject({
      code: 2,
      out: expect.stringContaining("--queue-type 'mirrored': must be one of classic, quorum"),
    });
    expect(await brokerUsers(['agent', 'web 1', 'pw'])).toMatchObject({
      code: 2,
      out: expect.stringContaining('not a host id'),
    });
    expect(await brokerUsers(['agent', 'web1'])).toMatchObject({
      code: 2,
      out: expect.stringContaining('expected: controller'),
    });
    expect(await brokerUsers(['root', 'x', 'pw'])).toMatchObject({
      code: 2,
      out: expect.stringContaining("unknown role 'root'"),
    });
  });

  describe('a controller and an agent with their least-privilege users', () => {
    let apiUrl = '';
    let token = '';

    function start(script: string, args: string[]): Proc {
      const child = spawn(process.execPath, [join(ROOT, script), ...args], {
        env: { ...process.env, WARREN_LOG_LEVEL: 'info', WARREN_RESULT_GRACE: '1s', WARREN_DELIVERY_GRACE: '1s' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const p = new Proc(child);
      procs.push(p);
      return p;
    }

    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };

    const agentArgs = (host: string, user: string, pass: string) => [
      '--host',
      host,
      '--namespace',
      ns,
      '--broker',
      b.url(user, pass),
      '--state-dir',
      join(dir, `agent-${host}`),
      '--trust',
      join(dir, 'controller.pub'),
      '--presence-interval',
      '1s',
      '--policy',
      LAB_POLICY,
    ];

    beforeAll(async () => {
      const stateArgs = ['--state-dir', join(dir), '--namespace', ns];
      // The token is stdout's one line; the notice about keeping it goes to stderr.
      token = await new Promise<string>((res, rej) =>
        execFile(
          process.execPath,
          [join(ROOT, 'bin/warren-controller.js'), 'token', 'create', '--role', 'admin', '--name', 'e2e', ...stateArgs],
          (err, stdout, stderr) => (err ? rej(new Error(`token create failed: ${stderr}`)) : res(stdout.trim())),
        ),
      );
      const ctl = start('bin/warren-controller.js', [
        '--port',
        '0',
        '--auto-accept',
        '--broker',
        b.url('ctl', pw.ctl),
        ...stateArgs,
      ]);
      apiUrl = `http://127.0.0.1:${JSON.parse(await ctl.waitFor(/"controller listening"/)).port}`;
      await ctl.waitFor(/"amqp connected"/);
    });

    it('runs a task on web1 end to end; the agent says its topology is managed by the broker admin', async () => {
      const agent = start('bin/warren-agent.js', agentArgs('web1', 'web1', pw.web1));
      await agent.waitFor(/managed by the broker admin/);
      await agent.waitFor(/"amqp connected"/);
      await until(async () => {
        const { body } = await api('GET', '/v1/hosts');
        return body?.hosts?.some((h: { host: string; status: string }) => h.host === 'web1' && h.status === 'online');
      }, 20_000);
      const res = await api('POST', '/v1/tasks', { command: 'echo least-privilege', hosts: ['web1'], wait: true });
      expect(res.status).toBe(200);
      expect(res.body.results).toEqual([
        expect.objectContaining({ host: 'web1', state: 'succeeded', exitCode: 0, stdout: 'least-privilege\n' }),
      ]);
      expect(agent.output).not.toMatch(/ACCESS_REFUSED.*reconnecting/);
    });

    it("an agent with web1's credentials posing as web2 is refused web2's inbox and never comes online", async () => {
      const impostor = start('bin/warren-agent.js', agentArgs('web2', 'web1', pw.web1));
      await impostor.waitFor(/ACCESS_REFUSED - access to queue '[^']*(agent|ctl)\.web2'/);
      const { body } = await api('GET', '/v1/hosts');
      expect(body.hosts.some((h: { host: string; status: string }) => h.host === 'web2' && h.status === 'online')).toBe(
        false,
      );
      await impostor.stop('SIGKILL');
    });
  });
});
