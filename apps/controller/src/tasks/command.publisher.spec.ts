import { decodeCommand, generateSigningKey, keyRing, signBody, verifyBody } from '@warren/protocol';
import { PublishNackedError } from '@warren/amqp';
import type { Clock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import type { ControllerKey } from '../keys/controller-key';
import { MetricsService } from '../metrics/metrics.service';
import type { TaskRecord } from '../store/task-store.port';
import type { FileManifests } from '../files/file-manifests';
import { CommandPublisher } from './command.publisher';

const SHA = 'c'.repeat(64);
/** The manifest every stored file has in these tests: 3 bytes, one chunk. */
const MANIFEST = { sha256: SHA, size: 3, chunkSize: 512 * 1024, chunks: ['d'.repeat(64)] };
const manifests = { of: async (sha: string) => ({ ...MANIFEST, sha256: sha }) } as unknown as FileManifests;

const key = generateSigningKey();

/** A publisher whose broker nacks the first `nacks` publishes (all of them with `Infinity`). */
function publisherOf(nacks = 0) {
  const published: { exchange: string; host: string; body: Buffer; options: Record<string, unknown> }[] = [];
  const broker = {
    publisher: {
      publish: async (exchange: string, host: string, body: Buffer, options: Record<string, unknown>) => {
        published.push({ exchange, host, body, options });
        if (published.length <= nacks) throw new PublishNackedError(`broker nacked publish to ${exchange}/${host}`);
      },
    },
  } as unknown as BrokerService;
  const clock = { now: () => Date.now() } as Clock;
  const config = { namespace: 'ns', deliveryGraceMs: 5_000 } as ControllerConfig;
  const signer = { sign: (body: Buffer) => signBody(body, key) } as unknown as ControllerKey;
  return {
    publisher: new CommandPublisher(
      broker,
      config,
      signer,
      new MetricsService(),
      clock,
      pino({ level: 'silent' }),
      manifests,
    ),
    published,
  };
}

const task = {
  id: 't_1',
  command: 'uptime',
  runAs: null,
  cwd: null,
  env: { A: '1' },
  timeoutMs: 60_000,
  deliveryTimeoutMs: 30_000,
  killGraceMs: 5_000,
  live: false,
} as unknown as TaskRecord;

describe('CommandPublisher', () => {
  it("publishes one signed, mandatory command, addressed to its namespace and the host's accepted key, that expires with the delivery timeout", async () => {
    const { publisher, published } = publisherOf();
    await publisher.command(task, { id: 'i1', host: 'web1', agentKeyId: 'SHA256:web1' }, 1_000_000);
    expect(published).toHaveLength(1);
    const [p] = published;
    expect(p).toMatchObject({ host: 'web1', options: { mandatory: true, expiration: '30000', correlationId: 'i1' } });
    expect(verifyBody(p.body, p.options.headers as Record<string, unknown>, keyRing([key])).ok).toBe(true);
    const decoded = decodeCommand(p.body);
    expect(decoded).toMatchObject({
      ok: true,
      message: {
        // a plain command is sent as protocol 1, so that an agent still at 1 runs it
        v: 1,
        invocationId: 'i1',
        taskId: 't_1',
        namespace: 'ns',
        agentKeyId: 'SHA256:web1',
        issuedAt: 1_000_000,
        expiresAt: 1_030_000,
        live: false,
      },
    });
  });

  it('publishes a signed cancel, addressed like a command, that outlives any copy of the commands it cancels', async () => {
    const { publisher, published } = publisherOf();
    await publisher.cancel(task, { host: 'web2', agentKeyId: 'SHA256:web2' }, ['i2', 'i3'], 'ops', 2_000_000);
    const [p] = published;
    expect(p.host).toBe('web2');
    expect(p.options.messageId).toBe('t_1:web2:2000000');
    expect(verifyBody(p.body, p.options.headers as Record<string, unknown>, keyRing([key])).ok).toBe(true);
    expect(JSON.parse(p.body.toString())).toMatchObject({
      kind: 'cancel',
      namespace: 'ns',
      agentKeyId: 'SHA256:web2',
      invocationIds: ['i2', 'i3'],
      requestedBy: 'ops',
      expiresAt: 2_000_000 + 30_000 + 5_000 + 60_000,
    });
  });

  describe('a publish the broker nacks (a quorum inbox between two leaders)', () => {
    afterEach(() => vi.useRealTimers());

    it('is published again with backoff, and the command is sent once the broker takes it', async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const { publisher, published } = publisherOf(2);
      let done = false;
      const sent = publisher
        .command(task, { id: 'i1', host: 'web1', agentKeyId: 'SHA256:web1' }, 1_000_000)
        .then(() => {
          done = true;
        });
      await vi.advanceTimersByTimeAsync(1_000);
      await sent;
      expect(done).toBe(true);
      expect(published).toHaveLength(3);
      expect(new Set(published.map((p) => p.body.toString())).size).toBe(1); // the same signed command
    });

    it('gives up, rejecting with the nack, once the command would have expired', async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const { publisher, published } = publisherOf(Infinity);
      const sent = publisher.command(task, { id: 'i1', host: 'web1', agentKeyId: 'SHA256:web1' }, 1_000_000);
      const outcome = sent.then(
        () => 'sent',
        (err: Error) => err,
      );
      await vi.advanceTimersByTimeAsync(task.deliveryTimeoutMs + 10_000);
      const err = await outcome;
      expect(err).toBeInstanceOf(PublishNackedError);
      expect(published.length).toBeGreaterThan(5);
    });

    it('retries a cancel the same way', async () => {
      vi.useFakeTimers({ now: 2_000_000 });
      const { publisher, published } = publisherOf(1);
      const sent = publisher.cancel(task, { host: 'web2', agentKeyId: 'SHA256:web2' }, ['i2'], 'ops', 2_000_000);
      await vi.advanceTimersByTimeAsync(1_000);
      await sent;
      expect(published).toHaveLength(2);
    });
  });

  it('sends a put as protocol 2 with the signed manifest, destination, mode and owner, and a plain command as 1', async () => {
    const { publisher, published } = publisherOf();
    const put = {
      ...task,
      command: 'put /etc/motd',
      transfer: {
        op: 'put',
        file: SHA,
        name: 'm',
        size: 3,
        dest: '/etc/motd',
        mode: 0o640,
        owner: 'root',
        group: null,
        mkdir: true,
      },
    } as TaskRecord;
    await publisher.command(put, { id: 'i1', host: 'web1', agentKeyId: 'k' }, 1_000_000);
    await publisher.command(task, { id: 'i2', host: 'web1', agentKeyId: 'k' }, 1_000_000);
    const [sent, plain] = published.map((p) => decodeCommand(p.body));
    expect(sent).toMatchObject({
      ok: true,
      message: {
        v: 2,
        command: 'put /etc/motd',
        transfer: {
          op: 'put',
          file: MANIFEST,
          dest: '/etc/motd',
          mode: 0o640,
          owner: 'root',
          group: null,
          mkdir: true,
        },
      },
    });
    expect(sent.ok && sent.message.stdin).toBeUndefined();
    expect(plain).toMatchObject({ ok: true, message: { v: 1 } });
    expect(plain.ok && plain.message.transfer).toBeUndefined();
  });

  it('sends a get with the fetched queue as chunkReplyTo, and a stdin with its manifest', async () => {
    const { publisher, published } = publisherOf();
    const get = {
      ...task,
      command: 'get /var/log/x',
      transfer: { op: 'get', path: '/var/log/x', maxBytes: 10 },
    } as TaskRecord;
    const stdin = { ...task, command: 'sha256sum', stdin: { file: SHA, size: 3 } } as TaskRecord;
    await publisher.command(get, { id: 'i1', host: 'web1', agentKeyId: 'k' }, 1_000_000);
    await publisher.command(stdin, { id: 'i2', host: 'web1', agentKeyId: 'k' }, 1_000_000);
    const [g, s] = published.map((p) => decodeCommand(p.body));
    expect(g).toMatchObject({
      ok: true,
      message: { v: 2, transfer: { op: 'get', path: '/var/log/x', maxBytes: 10, chunkReplyTo: 'ns.fetched' } },
    });
    expect(s).toMatchObject({ ok: true, message: { v: 2, command: 'sha256sum', stdin: MANIFEST } });
  });
});
