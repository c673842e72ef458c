import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as amqplib from 'amqplib';
import {
  agentQueue,
  agentTopology,
  CHUNK_HEADERS,
  CHUNK_MESSAGE_TYPE,
  chunksExchange,
  type CommandMessage,
  commandExchange,
  encode,
  FILE_CHUNK_BYTES,
  type FileManifest,
  fetchedQueue,
  decodeFileChunk,
  generateSigningKey,
  keyRing,
  readSigningKeyFile,
  resultsQueue,
  signBody,
  verifyBody,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const URL = process.env.WARREN_TEST_BROKER_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MAIN = resolve(__dirname, '../../../dist/apps/agent/main.js');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(fn: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(25);
  }
}
const chunksOf = (b: Buffer) =>
  Array.from({ length: Math.ceil(b.length / FILE_CHUNK_BYTES) }, (_, i) =>
    b.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES),
  );
const manifestOf = (b: Buffer): FileManifest => ({
  sha256: sha256(b),
  size: b.length,
  chunkSize: FILE_CHUNK_BYTES,
  chunks: chunksOf(b).map(sha256),
});

type Reply = { kind: string; invocationId: string; [k: string]: unknown };

/**
 * The built agent (dist/apps/agent/main.js, `npm run build`) as a real process against the real
 * broker, with this test playing the controller: it signs protocol-2 commands, answers `ready` by
 * publishing the chunks to `<ns>.chunks`, and reads results and fetched chunks from the queues.
 */
describe('warren-agent: file transfers against the real broker', () => {
  const ns = `af${randomBytes(4).toString('hex')}`;
  const host = 'files1';
  const dir = mkdtempSync(join(tmpdir(), 'warren-agent-files-'));
  const stateDir = join(dir, 'state');
  const data = join(dir, 'data');
  const controllerKey = generateSigningKey();
  let agent: ChildProcess | null = null;
  let agentOut = '';
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  let agentKeyId = '';
  let agentRing: ReturnType<typeof keyRing>;
  const replies: Reply[] = [];
  const fetched: Reply[] = [];
  /** invocation id → the bytes to send when it asks (`ready`); absent = send nothing */
  const serve = new Map<string, { bytes: Buffer; only?: number }>();

  const startAgent = async () => {
    agentOut = '';
    agent = spawn(
      process.execPath,
      [
        MAIN,
        '--host',
        host,
        '--namespace',
        ns,
        '--broker',
        URL,
        '--state-dir',
        stateDir,
        '--trust',
        join(dir, 'controller.pub'),
        '--policy',
        join(dir, 'policy.yaml'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    agent.stdout!.on('data', (b: Buffer) => (agentOut += b.toString()));
    agent.stderr!.on('data', (b: Buffer) => (agentOut += b.toString()));
    // A passive declare of a queue not there yet closes its channel: probe on a throwaway one.
    await until(async () => {
      const probe = await conn.createChannel();
      probe.on('error', () => undefined);
      const q = await probe.checkQueue(agentQueue(ns, host)).catch(() => null);
      await probe.close().catch(() => undefined);
      return q?.consumerCount === 1;
    });
  };
  const publishChunk = (task: string, file: string, index: number, body: Buffer) =>
    new Promise<void>((res, rej) =>
      ch.publish(
        chunksExchange(ns),
        host,
        body,
        {
          persistent: true,
          type: CHUNK_MESSAGE_TYPE,
          headers: { [CHUNK_HEADERS.task]: task, [CHUNK_HEADERS.file]: file, [CHUNK_HEADERS.index]: index },
        },
        (e) => (e ? rej(e) : res()),
      ),
    );
  const send = (over: Partial<CommandMessage>): CommandMessage => {
    const c: CommandMessage = {
      v: 2,
      kind: 'command',
      invocationId: randomUUID(),
      taskId: `t_${randomBytes(3).toString('hex')}`,
      host,
      namespace: ns,
      agentKeyId,
      command: 'true',
      runAs: null,
      cwd: null,
      env: {},
      timeoutMs: 20_000,
      killGraceMs: 500,
      issuedAt: Date.now(),
      expiresAt: Date.now() + 60_000,
      replyTo: resultsQueue(ns),
      ...over,
    };
    const body = encode(c);
    ch.publish(commandExchange(ns), host, body, {
      headers: signBody(body, controllerKey),
      correlationId: c.invocationId,
      persistent: true,
    });
    return c;
  };
  const resultOf = async (id: string) => {
    await until(() => replies.some((r) => r.invocationId === id && (r.kind === 'result' || r.kind === 'interrupted')));
    return replies.find((r) => r.invocationId === id && (r.kind === 'result' || r.kind === 'interrupted'))!;
  };

  beforeAll(async () => {
    mkdirSync(data);
    writeFileSync(join(dir, 'controller.pub'), controllerKey.publicPem);
    writeFileSync(
      join(dir, 'policy.yaml'),
      `allowRoot: true\nfiles:\n  write: ['${data}/**']\n  read: ['${data}/**']\n  maxBytes: 16MiB\n`,
    );
    conn = await amqplib.connect(URL);
    ch = await conn.createConfirmChannel();
    await startAgent();
    const agentKey = readSigningKeyFile(join(stateDir, 'agent.key'));
    agentKeyId = agentKey.keyId;
    agentRing = keyRing([agentKey]);
    await ch.consume(resultsQueue(ns), (m) => {
      if (!m) return;
      const r = JSON.parse(m.content.toString()) as Reply;
      replies.push(r);
      ch.ack(m);
      const s = serve.get(r.invocationId);
      if (r.kind === 'ready' && s) {
        const chunks = chunksOf(s.bytes);
        void (async () => {
          for (let i = 0; i < (s.only ?? chunks.length); i++)
            await publishChunk(r.taskId as string, r.sha256 as string, i, chunks[i]);
        })();
      }
    });
    await ch.consume(fetchedQueue(ns), (m) => {
      if (!m) return;
      // As the controller will: signed by this host's key, and a valid fileChunk.
      const v = verifyBody(m.content, m.properties.headers as Record<string, unknown>, agentRing);
      const d = decodeFileChunk(m.content);
      fetched.push({ ...(JSON.parse(m.content.toString()) as Reply), verified: v.ok && d.ok });
      ch.ack(m);
    });
  });

  afterAll(async () => {
    agent?.kill('SIGKILL');
    for (const q of agentTopology(ns, host, 'classic').queues) await ch.deleteQueue(q.name).catch(() => undefined);
    for (const e of agentTopology(ns, host, 'classic').exchanges)
      await ch.deleteExchange(e.name).catch(() => undefined);
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('puts a 3 MiB file atomically (mode as asked); a second put of it is unchanged and asks for nothing', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    const dest = join(data, 'app.bin');
    const put = (id: string) =>
      send({
        invocationId: id,
        command: `put ${dest}`,
        transfer: { op: 'put', file: manifestOf(bytes), dest, mode: 0o640, owner: null, group: null, mkdir: false },
      });
    const first = randomUUID();
    serve.set(first, { bytes });
    put(first);
    expect(await resultOf(first)).toMatchObject({
      state: 'succeeded',
      file: { sha256: sha256(bytes), size: bytes.length, changed: true },
    });
    expect(sha256(readFileSync(dest))).toBe(sha256(bytes));
    expect(statSync(dest).mode & 0o7777).toBe(0o640);
    expect(readdirSync(data)).toEqual(['app.bin']);
    const second = randomUUID();
    put(second);
    expect(await resultOf(second)).toMatchObject({ state: 'succeeded', file: { changed: false } });
    expect(replies.filter((r) => r.invocationId === second).map((r) => r.kind)).toEqual(['started', 'result']);
  });

  it('feeds 1 MiB to sha256sum on its stdin', async () => {
    const bytes = randomBytes(1024 * 1024);
    const id = randomUUID();
    serve.set(id, { bytes });
    send({ invocationId: id, command: 'sha256sum', stdin: manifestOf(bytes) });
    const r = await resultOf(id);
    expect(r).toMatchObject({ state: 'succeeded', exitCode: 0, file: { sha256: sha256(bytes), changed: false } });
    expect((r.stdout as { data: string }).data).toBe(`${sha256(bytes)}  -\n`);
    expect(readdirSync(join(stateDir, 'stdin'))).toEqual([]);
  });

  it('fetches a file in signed fileChunk replies on <ns>.fetched; a policy-denied path is rejected', async () => {
    const bytes = randomBytes(FILE_CHUNK_BYTES + 17);
    const path = join(data, 'log.txt');
    writeFileSync(path, bytes);
    const id = randomUUID();
    send({
      invocationId: id,
      command: `get ${path}`,
      transfer: { op: 'get', path, maxBytes: 1 << 20, chunkReplyTo: fetchedQueue(ns) },
    });
    expect(await resultOf(id)).toMatchObject({
      state: 'succeeded',
      file: { sha256: sha256(bytes), size: bytes.length },
    });
    const mine = fetched.filter((f) => f.invocationId === id).sort((a, b) => (a.index as number) - (b.index as number));
    expect(Buffer.concat(mine.map((f) => Buffer.from(f.data as string, 'base64'))).equals(bytes)).toBe(true);
    expect(mine.map((f) => [f.index, f.verified])).toEqual([
      [0, true],
      [1, true],
    ]);

    const denied = randomUUID();
    send({
      invocationId: denied,
      command: 'get /etc/shadow',
      transfer: { op: 'get', path: '/etc/shadow', maxBytes: 1 << 20, chunkReplyTo: fetchedQueue(ns) },
    });
    expect(await resultOf(denied)).toMatchObject({
      state: 'rejected',
      code: 'policy',
      reason: 'policy: files.read allows no path matching /etc/shadow',
    });
  });

  it('SIGKILLed mid-put: after its restart no temp file is left, nothing is at the destination, and it reports the put interrupted', async () => {
    const bytes = randomBytes(4 * FILE_CHUNK_BYTES);
    const dest = join(data, 'half.bin');
    const id = randomUUID();
    serve.set(id, { bytes, only: 2 }); // two chunks of four, then silence
    send({
      invocationId: id,
      command: `put ${dest}`,
      transfer: { op: 'put', file: manifestOf(bytes), dest, mode: null, owner: null, group: null, mkdir: false },
    });
    const temp = join(data, `.half.bin.warren-${id}.tmp`);
    await until(() => existsSync(temp) && readFileSync(temp).length >= 2 * FILE_CHUNK_BYTES);
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    expect(existsSync(temp)).toBe(true);
    await startAgent();
    expect(await resultOf(id)).toMatchObject({ kind: 'interrupted' });
    expect(existsSync(temp)).toBe(false);
    expect(existsSync(dest)).toBe(false);
    expect(agentOut).toContain('removed temp files of transfers the agent stopped');
  });
});
