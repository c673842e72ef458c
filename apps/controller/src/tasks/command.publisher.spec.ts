import { decodeCommand, generateSigningKey, keyRing, PROTOCOL_VERSION, signBody, verifyBody } from '@warren/protocol';
import { PublishNackedError } from '@warren/amqp';
import type { Clock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { ControllerConfig } from '../config/controller.config';
import type { ControllerKey } from '../keys/controller-key';
import { MetricsService } from '../metrics/metrics.service';
import type { TaskRecord } from '../store/task-store.port';
import { CommandPublisher } from './command.publisher';

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
    publisher: new CommandPublisher(broker, config, signer, new MetricsService(), clock, pino({ level: 'silent' })),
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
        v: PROTOCOL_VERSION,
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
});
