import { ClosedError, NACK_BACKOFF, PublishNackedError } from '@warren/amqp';
import { decodeReply } from '@warren/protocol';
import { ManualClock } from '@warren/runtime';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BrokerService } from '../broker/broker.service';
import type { AgentConfig } from '../config/agent.config';
import type { AgentIdentity } from '../identity/agent.identity';
import { refusedMessage, startedMessage } from './reply.builder';
import { ReplyPublisher } from './reply.publisher';

const ids = { invocationId: 'inv-1', taskId: 't_1', host: 'web1' };

/** A publisher whose broker answers each publish with the next of `answers` (an error rejects it; the last repeats). */
function make(answers: (Error | null)[]) {
  const bodies: Buffer[] = [];
  const publish = vi.fn((_exchange: string, _key: string, body: Buffer) => {
    bodies.push(body);
    const a = answers[Math.min(bodies.length - 1, answers.length - 1)];
    return a ? Promise.reject(a) : Promise.resolve();
  });
  const broker = {
    connection: { connected: true },
    whenConnected: () => Promise.resolve(),
    publisher: { publish },
  } as unknown as BrokerService;
  const replies = new ReplyPublisher(
    broker,
    { namespace: 'ns' } as AgentConfig,
    { sign: () => ({}) } as unknown as AgentIdentity,
    new ManualClock(),
    pino({ level: 'silent' }),
  );
  return { replies, publish, bodies };
}

describe('ReplyPublisher', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('publishes a reply the broker nacked again, with backoff, until it is confirmed (a quorum results queue electing a leader nacks for a moment)', async () => {
    const nack = () => new PublishNackedError('broker nacked publish to ns.replies/ns.results');
    const { replies, publish, bodies } = make([nack(), nack(), null]);
    let confirmed: boolean | undefined;
    void replies.sendConfirmed(startedMessage(ids, 1000, null), 'ns.results').then((ok) => (confirmed = ok));
    await vi.advanceTimersByTimeAsync(0);
    expect(publish).toHaveBeenCalledTimes(1);
    // The first retry waits between half and all of the first cap, never in a tight loop.
    await vi.advanceTimersByTimeAsync(NACK_BACKOFF.initialMs / 2 - 1);
    expect(publish).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(NACK_BACKOFF.initialMs / 2 + 1);
    expect(publish).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(NACK_BACKOFF.initialMs * 2);
    expect(publish).toHaveBeenCalledTimes(3);
    expect(confirmed).toBe(true);
    expect(replies.pending).toBe(0);
    // The same reply each time, to the same place.
    expect(publish.mock.calls.map((c) => [c[0], c[1]])).toEqual(Array(3).fill(['ns.replies', 'ns.results']));
    expect(new Set(bodies.map((b) => b.toString())).size).toBe(1);
    expect(decodeReply(bodies[0])).toMatchObject({ ok: true, message: { kind: 'started', ...ids } });
  });

  it('keeps a nacked reply pending while it waits to publish it again', async () => {
    const { replies } = make([new PublishNackedError('nacked')]);
    replies.send(refusedMessage(ids, 'error', 'x', 5), 'ns.results');
    await vi.advanceTimersByTimeAsync(10 * NACK_BACKOFF.maxMs);
    expect(replies.pending).toBe(1);
    const drained = replies.drain(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await drained).toBe(false);
  });

  it('gives up on a reply only when the publisher is closed (the agent stopping), and says so: false, not retried', async () => {
    const { replies, publish } = make([new ClosedError('publisher closed')]);
    const ok = replies.sendConfirmed(startedMessage(ids, 1000, null), 'ns.results');
    await vi.advanceTimersByTimeAsync(10 * NACK_BACKOFF.maxMs);
    expect(await ok).toBe(false);
    expect(publish).toHaveBeenCalledTimes(1);
  });
});
