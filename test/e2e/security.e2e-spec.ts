import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as amqplib from 'amqplib';
import {
  agentQueue,
  type CommandMessage,
  commandExchange,
  encode,
  generateSigningKey,
  KEY_ID_HEADER,
  readSigningKeyFile,
  resultsQueue,
  SIGNATURE_HEADER,
  signBody,
  type SigningKey,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROKER_URL, sleep, until, Warren } from './harness';

/** Lines in a side-effect file: one per execution of a command that appends to it. */
const lines = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];

/**
 * The broker is an untrusted pipe: whoever can publish to an agent's queue cannot make it run
 * anything without the controller's signature, nor run anything twice. Every refusal is reported
 * `rejected` with its code and reason and lands in the audit log.
 */
describe('security: only signed, fresh, first-seen commands for this host ever run', () => {
  const w = new Warren();
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let key: SigningKey;
  /** sec1's agent key as the controller accepted it: what the controller addresses sec1's commands to */
  let sec1Key = '';
  const side = () => join(w.dir, 'side-effects');

  /** A command envelope the way the controller builds one, for host `sec1` unless told otherwise. */
  const envelope = (over: Partial<CommandMessage> = {}): CommandMessage => ({
    v: 1,
    kind: 'command',
    invocationId: randomUUID(),
    taskId: 't_test',
    host: 'sec1',
    namespace: w.ns,
    agentKeyId: sec1Key,
    command: `echo ran >> ${side()}`,
    runAs: null,
    cwd: null,
    env: {},
    timeoutMs: 10_000,
    killGraceMs: 1_000,
    issuedAt: Date.now(),
    expiresAt: Date.now() + 60_000,
    replyTo: resultsQueue(w.ns),
    ...over,
  });

  /** Publishes raw bytes with headers straight into an agent's queue, as anyone with broker access could. */
  const inject = (body: Buffer, headers: Record<string, unknown>, correlationId: string, host = 'sec1') =>
    new Promise<void>((res, rej) =>
      ch.sendToQueue(
        agentQueue(w.ns, host),
        body,
        { headers, correlationId, persistent: true, contentType: 'application/json' },
        (err) => (err ? rej(err) : res()),
      ),
    );
  const injectSigned = (m: CommandMessage, signer: SigningKey = key) => {
    const body = encode(m);
    return inject(body, signBody(body, signer), m.invocationId);
  };

  /** The agent's refusals, as the controller's audit log holds them. */
  const rejections = async (): Promise<{ invocationId: string; reason: string; code: string; actor: string }[]> => {
    const res = await w.api('GET', '/v1/audit?action=agent.rejected&limit=1000');
    expect(res.status).toBe(200);
    return (res.body.records as any[]).map((r) => ({
      invocationId: r.invocationId,
      reason: r.reason,
      code: r.detail?.code,
      actor: r.actor,
    }));
  };
  /** Waits for the agent's refusal of `invocationId` to be audited; `ms` as long as replies may queue ahead of it. */
  const rejectionOf = (invocationId: string, code: string, ms = 10_000) =>
    until(async () => (await rejections()).find((r) => r.invocationId === invocationId && r.code === code), ms);

  /** Taps the command exchange for `host`, as an eavesdropper with bind rights would. */
  const tap = async (host: string) => {
    const q = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(q.queue, commandExchange(w.ns), host);
    return async (): Promise<amqplib.GetMessage> =>
      until(async () => (await ch.get(q.queue, { noAck: true })) || null, 10_000);
  };

  beforeAll(async () => {
    await w.startController();
    await w.startAgent('sec1');
    await w.startAgent('sec2');
    key = readSigningKeyFile(w.controllerKeyPath);
    sec1Key = await w.hostKeyId('sec1');
    conn = await amqplib.connect(BROKER_URL);
    ch = await conn.createConfirmChannel();
  });
  afterAll(async () => {
    await conn?.close();
    await w.teardown();
  });

  it('runs a correctly signed envelope exactly once (the test can fail)', async () => {
    const m = envelope();
    await injectSigned(m);
    await until(() => lines(side()).length === 1, 10_000);
    expect(lines(side())).toEqual(['ran']);
  });

  it('rejects unsigned, badly signed, untrusted-key, wrong-host, expired, future-dated and oversized envelopes, runs none, audits each', async () => {
    const before = lines(side()).length;
    const cases: [string, () => Promise<void>, string][] = [];
    const add = (code: string, m: CommandMessage, send: (m: CommandMessage) => Promise<void>) =>
      cases.push([m.invocationId, () => send(m), code]);
    add('unsigned', envelope(), (m) => inject(encode(m), {}, m.invocationId));
    add('bad_signature', envelope(), (m) => {
      const sig = signBody(encode({ ...m, command: 'true' }), key);
      return inject(encode(m), sig, m.invocationId);
    });
    add('untrusted_key', envelope(), (m) => injectSigned(m, generateSigningKey()));
    add('wrong_host', envelope({ host: 'sec2' }), (m) => injectSigned(m)); // signed for sec2, dropped into sec1's queue
    add('expired', envelope({ issuedAt: Date.now() - 200_000, expiresAt: Date.now() - 100_000 }), (m) =>
      injectSigned(m),
    );
    add('not_yet_valid', envelope({ issuedAt: Date.now() + 120_000, expiresAt: Date.now() + 180_000 }), (m) =>
      injectSigned(m),
    );
    add(
      'oversized',
      envelope({
        env: {
          // 2.2 MB: over LIMITS.maxCommandMessageBytes (2 MiB)
          PAD: 'x'.repeat(100_000),
          ...Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`P${i}`, 'y'.repeat(100_000)])),
        },
      }),
      (m) => injectSigned(m),
    );
    for (const [, send] of cases) await send();
    for (const [id, , code] of cases) {
      const r = await rejectionOf(id, code);
      expect(r.actor).toBe('agent:sec1');
      expect(r.reason).toBeTruthy();
    }
    await sleep(300);
    expect(lines(side()).length).toBe(before);
  });

  it('rejects every single tampered field of a real controller envelope (command, cwd, env, run-as, timeout, host, expiry)', async () => {
    const next = await tap('sec1');
    const task = await w.runAndWait({ command: `echo real >> ${side()}`, hosts: ['sec1'] });
    expect(task.results[0].state).toBe('succeeded');
    const original = await next();
    const headers = original.properties.headers as Record<string, unknown>;
    expect(headers[SIGNATURE_HEADER]).toBeTruthy();
    expect(headers[KEY_ID_HEADER]).toBe(key.keyId);
    const real = JSON.parse(original.content.toString()) as CommandMessage;
    const before = lines(side()).length;
    const tampered: Partial<CommandMessage>[] = [
      { command: `echo tampered >> ${side()}` },
      { cwd: '/tmp' },
      { env: { LD_PRELOAD: '/tmp/evil.so' } },
      { runAs: 'root' },
      { timeoutMs: real.timeoutMs + 1 },
      { host: 'sec2' },
      { expiresAt: real.expiresAt + 3_600_000 },
    ];
    // Each copy keeps the real signature headers; the body still names the real invocation, which
    // must stay `succeeded`: a refusal of an unverifiable message changes no invocation.
    for (const t of tampered) await inject(encode({ ...real, ...t }), headers, real.invocationId);
    // Each is refused by the agent (its log says so, one line each); the audit log counts repeated
    // bad signatures once a minute per host (docs/security-api.md), so it is not the tally here.
    const refusedCopies = () =>
      w.agents
        .get('sec1')!
        .output.split('\n')
        .filter(
          (l) =>
            l.includes('"rejected message"') &&
            l.includes('"code":"bad_signature"') &&
            l.includes(`"correlationId":"${real.invocationId}"`),
        ).length;
    await until(() => refusedCopies() === tampered.length, 10_000);
    await sleep(300);
    expect(lines(side()).length).toBe(before);
    const after = (await w.api('GET', `/v1/tasks/${task.id}`)).body;
    expect(after.results[0]).toMatchObject({ state: 'succeeded' });
  });

  it('never runs a replay: after it ran, after an agent restart, and while it still runs', async () => {
    const file = join(w.dir, 'replays');
    const next = await tap('sec1');
    const task = await w.runAndWait({ command: `echo once >> ${file}`, hosts: ['sec1'] });
    expect(task.results[0].state).toBe('succeeded');
    const copy = await next();
    const id = task.results[0].invocationId;
    await inject(copy.content, copy.properties.headers as Record<string, unknown>, id);
    const r1 = await rejectionOf(id, 'replay');
    expect(r1.reason).toMatch(/already ran \(succeeded, exit 0/);

    // after a restart of the agent: the journal on disk remembers
    await w.agents.get('sec1')!.stop('SIGTERM');
    await w.startAgent('sec1');
    await inject(copy.content, copy.properties.headers as Record<string, unknown>, id);
    await until(
      async () => (await rejections()).filter((r) => r.invocationId === id && r.code === 'replay').length === 2,
      10_000,
    );

    // while it runs
    const slow = await tap('sec1');
    const running = await w.api('POST', '/v1/tasks', { command: `echo slow >> ${file}; sleep 2`, hosts: ['sec1'] });
    expect(running.status).toBe(202);
    const slowCopy = await slow();
    const slowId = (JSON.parse(slowCopy.content.toString()) as CommandMessage).invocationId;
    await until(() => lines(file).includes('slow'), 10_000);
    await inject(slowCopy.content, slowCopy.properties.headers as Record<string, unknown>, slowId);
    const r3 = await rejectionOf(slowId, 'replay');
    expect(r3.reason).toBe('replay: this invocation is running now; not run again');
    const done = (await w.api('GET', `/v1/tasks/${running.body.id}?waitMs=10000`)).body;
    expect(done.results[0].state).toBe('succeeded');
    expect(lines(file)).toEqual(['once', 'slow']);
  });

  it('fuzz: 10,000 mutated envelopes straight into the queue cause zero executions', async () => {
    const file = join(w.dir, 'fuzz');
    // Valid past the longest the queue may take to drain below (120 s): on a loaded machine the
    // 10,000 mutations can take more than a minute, and an expired original is rightly refused.
    const m = envelope({ command: `echo fuzz >> ${file}`, expiresAt: Date.now() + 300_000 });
    const body = encode(m);
    const headers = signBody(body, key);
    const other = signBody(encode({ ...m, command: 'true' }), key);
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const mutate = (i: number): { body: Buffer; headers: Record<string, unknown> } => {
      const b = Buffer.from(body);
      switch (i % 8) {
        case 0: {
          // flip one to four random bits
          for (let k = 0, n = 1 + rand(4); k < n; k++) b[rand(b.length)] ^= 1 << rand(8);
          return { body: b, headers };
        }
        case 1:
          return { body: b.subarray(0, rand(b.length)), headers };
        case 2:
          return { body: Buffer.concat([b, Buffer.from(' ')]), headers };
        case 3:
          return { body: b, headers: { ...headers, [SIGNATURE_HEADER]: other[SIGNATURE_HEADER] } };
        case 4: {
          const sig = Buffer.from(headers[SIGNATURE_HEADER], 'base64');
          sig[rand(sig.length)] ^= 1 << rand(8);
          return { body: b, headers: { ...headers, [SIGNATURE_HEADER]: sig.toString('base64') } };
        }
        case 5:
          return { body: b, headers: { [KEY_ID_HEADER]: headers[KEY_ID_HEADER] } };
        case 6: {
          // replace a random byte with a random printable one (may keep JSON valid)
          const pos = rand(b.length);
          const old = b[pos];
          b[pos] = 32 + ((old - 32 + 1 + rand(94)) % 95);
          return { body: b, headers };
        }
        default:
          return { body: Buffer.from(JSON.stringify({ ...m, command: `echo fuzz${i} >> ${file}` })), headers };
      }
    };
    const N = 10_000;
    let mutated = 0;
    for (let i = 0; i < N; i++) {
      const x = mutate(i);
      if (x.body.equals(body) && x.headers[SIGNATURE_HEADER] === headers[SIGNATURE_HEADER]) continue; // not a mutation
      mutated++;
      ch.sendToQueue(agentQueue(w.ns, 'sec1'), x.body, { headers: x.headers, correlationId: `fuzz-${i}` });
    }
    await ch.waitForConfirms();
    expect(mutated).toBeGreaterThanOrEqual(N - 10);
    // Wait until the agent has worked through all of them.
    await until(async () => (await ch.checkQueue(agentQueue(w.ns, 'sec1'))).messageCount === 0, 120_000, 200);
    await sleep(500);
    expect(lines(file)).toEqual([]);
    // The untouched envelope still runs, once: the agent was listening all along.
    await inject(body, headers, m.invocationId);
    await until(() => lines(file).length === 1, 10_000);
    await inject(body, headers, m.invocationId);
    // The controller stores the 10,000 signed refusals before this one: as long as the drain may take.
    await rejectionOf(m.invocationId, 'replay', 120_000);
    expect(lines(file)).toEqual(['fuzz']);
    const logged = (w.agents.get('sec1')!.output.match(/"rejected message"/g) ?? []).length;
    expect(logged).toBeGreaterThanOrEqual(mutated);
    console.log(
      `fuzz: ${mutated} mutated envelopes, ${lines(file).length - 1} executions from them, ${logged} rejections logged`,
    );
  }, 180_000);
});
