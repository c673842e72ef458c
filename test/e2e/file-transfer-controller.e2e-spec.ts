import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import Database from 'better-sqlite3';
import * as amqplib from 'amqplib';
import type { FileUploaded } from '@warren/api';
import { assertTopology } from '@warren/amqp';
import {
  agentChunksQueue,
  agentQueue,
  agentTopology,
  CHUNK_HEADERS,
  type CommandMessage,
  decodeCommand,
  encode,
  FILE_CHUNK_BYTES,
  generateSigningKey,
  presenceExchange,
  PROTOCOL_VERSION,
  repliesExchange,
  type ReplyMessage,
  signBody,
  type SigningKey,
  type WarrenMessage,
} from '@warren/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exposition } from '../prometheus-text';
import { BROKER_URL, sleep, until, Warren } from './harness';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * The controller's half of file transfer (issue 16) against a real controller and broker, with
 * agents played here over AMQP (each with its own key, heartbeat, inbox and chunk queue, declared
 * as a real agent declares them): the streamed upload and its limits, a put's signed manifest, one
 * publish per chunk reaching every host's queue (BCC), a get's chunks verified and stored, and the
 * download's 409s and 200.
 */
describe('file transfer, controller side', () => {
  const w = new Warren();
  const LIMIT = 3 * 1024 * 1024;
  let conn: amqplib.ChannelModel;
  let ch: amqplib.ConfirmChannel;
  const keys = new Map<string, SigningKey>();
  const HOSTS = ['fa1', 'fa2', 'fa3'];

  const publish = (exchange: string, key: string, m: WarrenMessage, signer: SigningKey) => {
    const body = encode(m);
    return new Promise<void>((res, rej) =>
      ch.publish(exchange, key, body, { headers: signBody(body, signer), persistent: true }, (e) =>
        e ? rej(e) : res(),
      ),
    );
  };
  const reply = (m: ReplyMessage | WarrenMessage, replyTo: string, signer = keys.get((m as { host: string }).host)!) =>
    publish(repliesExchange(w.ns), replyTo, m, signer);
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const res = await fetch(`${w.url}/metrics`, { headers: { authorization: `Bearer ${w.token}` } });
    return new Exposition(await res.text()).value(name, labels);
  };
  /** The next command in `host`'s inbox (acked), decoded. */
  const nextCommand = async (host: string): Promise<CommandMessage> =>
    until(async () => {
      const got = await ch.get(agentQueue(w.ns, host), { noAck: true });
      if (!got) return null;
      const d = decodeCommand(got.content);
      if (!d.ok) throw new Error(d.reason);
      return d.message;
    }, 10_000);
  const upload = (body: Buffer, name = 'blob.bin') =>
    fetch(`${w.url}/v1/files?name=${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/octet-stream' },
      body,
    });
  const result = (cmd: CommandMessage, file?: { sha256: string; size: number; changed: boolean }) => ({
    v: PROTOCOL_VERSION,
    kind: 'result' as const,
    invocationId: cmd.invocationId,
    taskId: cmd.taskId,
    host: cmd.host,
    state: 'succeeded' as const,
    exitCode: 0,
    signal: null,
    stdout: { data: '', bytes: 0, truncated: false },
    stderr: { data: '', bytes: 0, truncated: false },
    startedAt: Date.now(),
    finishedAt: Date.now(),
    durationMs: 1,
    reason: null,
    ...(file ? { file } : {}),
  });

  beforeAll(async () => {
    await w.startController({ WARREN_MAX_FILE_SIZE: String(LIMIT) });
    conn = await amqplib.connect(BROKER_URL);
    ch = await conn.createConfirmChannel();
    for (const host of HOSTS) {
      const key = generateSigningKey();
      keys.set(host, key);
      await assertTopology(ch, agentTopology(w.ns, host, w.queueType));
      await publish(
        presenceExchange(w.ns),
        '',
        {
          v: PROTOCOL_VERSION,
          kind: 'presence',
          host,
          status: 'online',
          labels: {},
          version: '0.1.0',
          running: 0,
          concurrency: 4,
          intervalMs: 120_000,
          sentAt: Date.now(),
          publicKey: key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
        },
        key,
      );
    }
    await until(async () => {
      const { hosts } = (await w.api('GET', '/v1/hosts')).body as { hosts: { host: string; trust: string }[] };
      return HOSTS.every((h) => hosts.some((x) => x.host === h && x.trust === 'accepted'));
    }, 15_000);
  });
  afterAll(async () => {
    await conn?.close();
    await w.teardown();
  });

  it('uploads once (201), finds the same bytes again (200), and sends a put: one publish per chunk reaches every host', async () => {
    const bytes = randomBytes(2 * FILE_CHUNK_BYTES + 1000); // 3 chunks
    const res = await upload(bytes, 'motd.txt');
    expect(res.status).toBe(201);
    const uploaded = (await res.json()) as FileUploaded;
    expect(uploaded).toMatchObject({ sha256: sha(bytes), size: bytes.length, name: 'motd.txt', chunks: 3 });
    const again = await upload(bytes, 'other-name');
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(uploaded);

    const created = await w.api('POST', '/v1/tasks', {
      hosts: HOSTS,
      put: { file: uploaded.sha256, dest: '/srv/app/motd', mode: '0640', owner: 'www-data:adm' },
    });
    expect(created.status).toBe(202);
    const parts = [0, 1, 2].map((i) => bytes.subarray(i * FILE_CHUNK_BYTES, (i + 1) * FILE_CHUNK_BYTES));
    const commands = new Map<string, CommandMessage>();
    for (const host of HOSTS) {
      const cmd = await nextCommand(host);
      expect(cmd).toMatchObject({
        v: 2,
        command: 'put /srv/app/motd',
        transfer: {
          op: 'put',
          file: { sha256: sha(bytes), size: bytes.length, chunkSize: FILE_CHUNK_BYTES, chunks: parts.map(sha) },
          dest: '/srv/app/motd',
          mode: 0o640,
          owner: 'www-data',
          group: 'adm',
          mkdir: false,
        },
      });
      commands.set(host, cmd);
    }
    // A host asking for a file that is not its task's, or for another host's invocation, gets nothing.
    const fa1 = commands.get('fa1')!;
    await reply({ ...readyOf(fa1), sha256: 'e'.repeat(64) }, fa1.replyTo);
    await reply({ ...readyOf(fa1), host: 'fa2' }, fa1.replyTo, keys.get('fa2')!);
    await sleep(300);
    expect(await metric('warren_file_chunks_published_total')).toBe(0);
    expect(w.controller!.output).toContain("dropped a ready for a file that is not the task's");
    expect(w.controller!.output).toContain("dropped a ready for an invocation that is not this host's");

    for (const cmd of commands.values()) await reply(readyOf(cmd), cmd.replyTo);
    for (const host of HOSTS) {
      const got: { index: number; data: Buffer; headers: Record<string, unknown> }[] = [];
      await until(async () => {
        const m = await ch.get(agentChunksQueue(w.ns, host), { noAck: true });
        if (m)
          got.push({
            index: m.properties.headers![CHUNK_HEADERS.index],
            data: m.content,
            headers: m.properties.headers!,
          });
        return got.length === 3 ? got : null;
      }, 10_000);
      expect(got.map((g) => g.index)).toEqual([0, 1, 2]); // in order
      expect(got.map((g) => sha(g.data))).toEqual(parts.map(sha));
      expect(got[0].headers).toMatchObject({
        [CHUNK_HEADERS.task]: created.body.id,
        [CHUNK_HEADERS.file]: sha(bytes),
      });
      expect(got[0].headers.BCC).toBeUndefined(); // the broker strips it
    }
    // The three hosts asked within the gathering window: each chunk was published once for all of them.
    expect(await metric('warren_file_chunks_published_total')).toBe(3);
    expect(w.controller!.output).toMatch(/"hosts":3,"chunks":3,"publishes":3.*"file chunks sent"/);

    for (const cmd of commands.values())
      await reply(result(cmd, { sha256: sha(bytes), size: bytes.length, changed: cmd.host !== 'fa3' }), cmd.replyTo);
    const view = await until(async () => {
      const t = await w.api('GET', `/v1/tasks/${created.body.id}`);
      return t.body.state === 'completed' ? t.body : null;
    }, 10_000);
    expect(view.transfer).toEqual({
      op: 'put',
      file: sha(bytes),
      name: 'motd.txt',
      size: bytes.length,
      dest: '/srv/app/motd',
      mode: '0640',
      owner: 'www-data',
      group: 'adm',
      mkdir: false,
    });
    expect(view.results.map((r: { file: unknown }) => r.file)).toEqual([
      { sha256: sha(bytes), size: bytes.length, changed: true },
      { sha256: sha(bytes), size: bytes.length, changed: true },
      { sha256: sha(bytes), size: bytes.length, changed: false },
    ]);
    const audit = await w.api('GET', `/v1/audit?taskId=${created.body.id}`);
    expect(audit.body.records[0]).toMatchObject({
      action: 'task.create',
      hosts: HOSTS,
      command: 'put /srv/app/motd',
      detail: { transfer: 'put', sha256: sha(bytes), name: 'motd.txt', dest: '/srv/app/motd', owner: 'www-data:adm' },
    });
    // Not a get: there is no file to download.
    const notGet = await w.api('GET', `/v1/tasks/${created.body.id}/results/fa1/file`);
    expect(notGet.status).toBe(409);
    expect(notGet.body.message).toContain('is not a get');
  });

  it('refuses with 422 a put of a file never uploaded', async () => {
    const res = await w.api('POST', '/v1/tasks', { hosts: ['fa1'], put: { file: 'f'.repeat(64), dest: '/x' } });
    expect(res.status).toBe(422);
    expect(res.body.message).toContain(`no uploaded file ${'f'.repeat(64)}`);
  });

  it('answers 413 past --max-file-size: at once from the Content-Length, and mid-stream without one; nothing is stored', async () => {
    const over = await upload(randomBytes(LIMIT + 1));
    expect(over.status).toBe(413);
    expect(((await over.json()) as { message: string }).message).toContain(`--max-file-size of ${LIMIT} bytes`);
    // Chunked, no length: the answer comes once the body passes the limit, before the client ends it.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${w.url}/v1/files`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/octet-stream' },
        },
        (res) => {
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      const piece = randomBytes(256 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * LIMIT && req.write(piece)) sent += piece.length;
        if (sent < 4 * LIMIT) req.once('drain', pump);
      };
      pump(); // never ended: only the limit can answer it
    });
    expect(status).toBe(413);
    await w.controller!.waitFor(/"err":"the file is larger than .*"upload not stored; its chunks are removed"/, 5_000);
    await until(() => stagedRows() === 0, 5_000);
  });

  it('keeps nothing of an upload whose client went away mid-body', async () => {
    await new Promise<void>((resolve) => {
      const req = request(`${w.url}/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${w.token}`, 'content-type': 'application/octet-stream' },
      });
      req.on('error', () => resolve());
      req.write(randomBytes(FILE_CHUNK_BYTES + 10), () => setTimeout(() => (req.destroy(), resolve()), 300));
    });
    await w.controller!.waitFor(
      /"err":"the client closed the connection before the body was sent".*"upload not stored; its chunks are removed"/,
      5_000,
    );
    await until(() => stagedRows() === 0, 5_000);
  });

  it('stores a get’s chunks verified like replies, and answers the file only once it is whole: 409 until then', async () => {
    const created = await w.api('POST', '/v1/tasks', { hosts: ['fa1'], get: { path: '/var/log/app.log' } });
    expect(created.status).toBe(202);
    const cmd = await nextCommand('fa1');
    expect(cmd.transfer).toEqual({
      op: 'get',
      path: '/var/log/app.log',
      maxBytes: LIMIT,
      chunkReplyTo: `${w.ns}.fetched`,
    });
    const url = `/v1/tasks/${created.body.id}/results/fa1/file`;
    const notYet = await w.api('GET', url);
    expect(notYet.status).toBe(409);
    expect(notYet.body.message).toContain('fa1 did not succeed (pending)');

    const bytes = randomBytes(FILE_CHUNK_BYTES + 77);
    const chunk = (index: number, data: Buffer) => ({
      v: PROTOCOL_VERSION,
      kind: 'fileChunk' as const,
      invocationId: cmd.invocationId,
      taskId: cmd.taskId,
      host: 'fa1',
      index,
      data: data.toString('base64'),
    });
    const replyTo = cmd.transfer!.op === 'get' ? cmd.transfer!.chunkReplyTo : '';
    // Forged (signed by another host's key) and for another host's invocation: both dropped.
    await reply(chunk(0, Buffer.from('forged')), replyTo, keys.get('fa2')!);
    await reply({ ...chunk(0, Buffer.from('forged')), host: 'fa2' }, replyTo, keys.get('fa2')!);
    await reply(chunk(0, bytes.subarray(0, FILE_CHUNK_BYTES)), replyTo);
    await reply(result(cmd, { sha256: sha(bytes), size: bytes.length, changed: false }), cmd.replyTo);
    await until(async () => (await w.api('GET', `/v1/tasks/${created.body.id}`)).body.state === 'completed', 10_000);
    const incomplete = await w.api('GET', url);
    expect(incomplete.status).toBe(409);
    expect(incomplete.body.message).toBe("incomplete: 1 of 2 chunks of fa1's file are stored; retry");

    await reply(chunk(1, bytes.subarray(FILE_CHUNK_BYTES)), replyTo);
    await reply(chunk(1, Buffer.from('a repeated index is kept once')), replyTo);
    const res = await until(async () => {
      const r = await fetch(`${w.url}${url}`, { headers: { authorization: `Bearer ${w.token}` } });
      return r.status === 200 ? r : null;
    }, 10_000);
    expect(res.headers.get('warren-sha256')).toBe(sha(bytes));
    expect(res.headers.get('warren-size')).toBe(String(bytes.length));
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    expect(await metric('warren_fetched_chunks_stored_total')).toBe(2);
    expect(await metric('warren_replies_rejected_total', { reason: 'wrong_host' })).toBe(1);
    expect(w.controller!.output).toContain('dropped a fetched chunk');
  });

  /** Rows of uploads under way (and their chunks) in the controller's database. */
  function stagedRows(): number {
    const db = new Database(w.dbPath, { readonly: true });
    try {
      const { n } = db
        .prepare(
          `SELECT (SELECT COUNT(*) FROM file_uploads) + (SELECT COUNT(*) FROM file_chunks WHERE file_key LIKE 'upload:%') AS n`,
        )
        .get() as { n: number };
      return n;
    } finally {
      db.close();
    }
  }
});

function readyOf(cmd: CommandMessage) {
  return {
    v: PROTOCOL_VERSION,
    kind: 'ready' as const,
    invocationId: cmd.invocationId,
    taskId: cmd.taskId,
    host: cmd.host,
    sha256: cmd.transfer?.op === 'put' ? cmd.transfer.file.sha256 : cmd.stdin!.sha256,
  };
}
